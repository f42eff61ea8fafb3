//! A user's own files (keys, history): readable by them alone. On Unix the folder is 0700 and
//! each file 0600; elsewhere the system's defaults stand.

use std::io;
use std::path::Path;

/// Makes `path` readable and writable by its owner alone (Unix: 0600).
pub fn private_file(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
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
    let _ = dir;
    Ok(())
}
