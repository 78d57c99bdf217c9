/**
 * The one libc call reclm needs: prctl(PR_SET_PDEATHSIG), so a training child dies with its parent even while it is
 * busy inside a ggml graph (a JS 'disconnect' handler would only run at the next await). Linux only.
 */
import koffi from "koffi";

const PR_SET_PDEATHSIG = 1;
const SIGTERM = 15;

/**
 * Asks the kernel to send SIGTERM to this process when its parent dies. Returns false where that is unavailable
 * (not Linux, no glibc/musl libc.so.6); the caller then relies on the parent's own cleanup.
 */
export function dieWithParent(): boolean {
  if (process.platform !== "linux") return false;
  try {
    const libc = koffi.load("libc.so.6");
    const prctl = libc.func("int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5)");
    return prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) === 0;
  } catch {
    return false;
  }
}
