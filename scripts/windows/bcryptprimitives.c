/* Stand-in for Windows' bcryptprimitives.dll, which Wine 8 lacks: Rust's
 * standard library imports ProcessPrng from it. Built by scripts/windows.sh
 * into the private Wine prefix only; never shipped. */
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  while (len > 0) {
    ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
    if (BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0)
      return FALSE;
    data += chunk;
    len -= chunk;
  }
  return TRUE;
}
