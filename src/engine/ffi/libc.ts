/**
 * The one libc call reclm needs: prctl(PR_SET_PDEATHSIG), so a training child dies with its parent even while it is
 * busy inside a ggml graph (a JS 'disconnect' handler would only run when the event loop turns). Linux only.
 */
import koffi from "koffi";

const PR_SET_PDEATHSIG = 1;
// SIGKILL, not SIGTERM: a JS listener for SIGTERM makes Node keep running, and node-llama-cpp loads two copies of
// signal-exit whose listeners each leave the exit to the other; a training loop that only awaits resolved promises
// never lets the event loop see the signal (or the IPC disconnect) anyway. The child has nothing to clean up:
// checkpoints are written to a temporary file and renamed.
const SIGKILL = 9;

/**
 * Asks the kernel to SIGKILL this process when its parent dies. Returns false where that is unavailable (not Linux,
 * no glibc/musl libc.so.6); the caller then relies on the parent's own cleanup.
 */
export function dieWithParent(): boolean {
  if (process.platform !== "linux") return false;
  try {
    const libc = koffi.load("libc.so.6");
    const prctl = libc.func("int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5)");
    return prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) === 0;
  } catch {
    return false;
  }
}
