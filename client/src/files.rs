//! A user's own files (keys, history): readable by them alone. On Unix the folder is 0700 and
//! each file 0600; on Windows each gets a protected access list (nothing inherited) that lets
//! in this process's user and the system account, no one else.

use std::io;
use std::path::Path;

/// Makes `path` readable and writable by its owner alone (Unix: 0600).
pub fn private_file(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(windows)]
    owner_only::restrict(path, false)?;
    let _ = path;
    Ok(())
}

/// Makes `dir` its owner's alone (Unix: 0700).
pub fn private_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    #[cfg(windows)]
    owner_only::restrict(dir, true)?;
    let _ = dir;
    Ok(())
}

/// Windows access lists: the user and the system account, nothing inherited from above; and
/// who a process runs as, for the window's hand-off (gui-client/src/instance/pipe.rs).
#[cfg(windows)]
pub mod owner_only {
    use std::io;
    use std::os::windows::ffi::OsStrExt;
    use std::path::Path;

    use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, LocalFree};
    use windows_sys::Win32::Security::Authorization::{
        ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW,
        SDDL_REVISION_1,
    };
    use windows_sys::Win32::Security::{
        DACL_SECURITY_INFORMATION, GetTokenInformation, PROTECTED_DACL_SECURITY_INFORMATION,
        PSECURITY_DESCRIPTOR, SetFileSecurityW, TOKEN_QUERY, TOKEN_USER, TokenUser,
    };
    use windows_sys::Win32::System::Threading::{
        GetCurrentProcess, OpenProcess, OpenProcessToken, PROCESS_QUERY_LIMITED_INFORMATION,
    };

    /// This process's user, as a SID in text (`S-1-5-21-…`).
    pub fn user_sid() -> io::Result<String> {
        // SAFETY: the pseudo-handle of this process needs no closing.
        unsafe { process_sid(GetCurrentProcess()) }
    }

    /// The user process `pid` runs as, as a SID in text.
    pub fn user_sid_of(pid: u32) -> io::Result<String> {
        // SAFETY: the handle opened is closed after use.
        unsafe {
            let process = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid);
            if process.is_null() {
                return Err(io::Error::last_os_error());
            }
            let sid = process_sid(process);
            CloseHandle(process);
            sid
        }
    }

    /// The user of the process behind `process`, a handle with query rights.
    unsafe fn process_sid(process: HANDLE) -> io::Result<String> {
        // SAFETY: every pointer handed over points into a live local or buffer of the stated
        // size; what Windows allocates is freed with LocalFree, the token closed.
        unsafe {
            let mut token: HANDLE = std::ptr::null_mut();
            if OpenProcessToken(process, TOKEN_QUERY, &mut token) == 0 {
                return Err(io::Error::last_os_error());
            }
            let mut buffer = vec![0u64; 128]; // 1 KiB, aligned for TOKEN_USER and its SID
            let mut needed = 0u32;
            let size = (buffer.len() * 8) as u32;
            let got = GetTokenInformation(
                token,
                TokenUser,
                buffer.as_mut_ptr().cast(),
                size,
                &mut needed,
            );
            CloseHandle(token);
            if got == 0 {
                return Err(io::Error::last_os_error());
            }
            let user = &*(buffer.as_ptr() as *const TOKEN_USER);
            let mut text: *mut u16 = std::ptr::null_mut();
            if ConvertSidToStringSidW(user.User.Sid, &mut text) == 0 {
                return Err(io::Error::last_os_error());
            }
            let len = (0..).take_while(|&at| *text.add(at) != 0).count();
            let sid = String::from_utf16_lossy(std::slice::from_raw_parts(text, len));
            LocalFree(text.cast());
            Ok(sid)
        }
    }

    /// A security descriptor owned by this user whose access list is "this user and SYSTEM,
    /// full control", protected from what a folder would pass down; `inherit`: a folder's,
    /// passed on to what is made in it. Freed when dropped.
    pub struct Descriptor(PSECURITY_DESCRIPTOR);

    impl Descriptor {
        /// The descriptor (see [`Descriptor`]).
        pub fn new(inherit: bool) -> io::Result<Descriptor> {
            let flags = if inherit { "OICI" } else { "" };
            let user = user_sid()?;
            let sddl = format!("O:{user}D:P(A;{flags};FA;;;{user})(A;{flags};FA;;;SY)");
            let sddl: Vec<u16> = sddl.encode_utf16().chain([0]).collect();
            let mut descriptor: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
            // SAFETY: the string is NUL-terminated and outlives the call; the descriptor
            // Windows makes is freed with LocalFree on drop.
            let made = unsafe {
                ConvertStringSecurityDescriptorToSecurityDescriptorW(
                    sddl.as_ptr(),
                    SDDL_REVISION_1,
                    &mut descriptor,
                    std::ptr::null_mut(),
                )
            };
            if made == 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(Descriptor(descriptor))
        }

        /// For the Windows calls that take one.
        pub fn as_ptr(&self) -> PSECURITY_DESCRIPTOR {
            self.0
        }
    }

    impl Drop for Descriptor {
        fn drop(&mut self) {
            // SAFETY: made by ConvertStringSecurityDescriptorToSecurityDescriptorW, freed once.
            unsafe { LocalFree(self.0.cast()) };
        }
    }

    /// Gives `path` the access list of [`Descriptor`].
    pub fn restrict(path: &Path, inherit: bool) -> io::Result<()> {
        let descriptor = Descriptor::new(inherit)?;
        let path: Vec<u16> = path.as_os_str().encode_wide().chain([0]).collect();
        let what = DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION;
        // SAFETY: the path is NUL-terminated and the descriptor live for the call.
        if unsafe { SetFileSecurityW(path.as_ptr(), what, descriptor.as_ptr()) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}
