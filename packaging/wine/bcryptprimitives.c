/* Wine 8.0 (Debian 12) has no bcryptprimitives.dll, whose ProcessPrng Rust's Windows standard
 * library imports for random numbers: without it no Rust .exe starts under that Wine. This
 * stand-in, for the smoke test only (packaging/wine-smoke.sh puts it beside the .exe files
 * there; it is never shipped), fills the buffer from RtlGenRandom (advapi32's
 * SystemFunction036), which that Wine has. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk)) return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
