"""NVIDIA GPUs on the instance."""
import os
import shutil
import subprocess
import time

# Seconds a GPU job waits for the NVIDIA driver after boot (an emulated host
# without GPUs sets less).
GPU_WAIT = float(os.environ.get("HOIST_GPU_WAIT", "180"))


def nvidia_ready():
    """True when the NVIDIA driver answers (nvidia-smi exits 0)."""
    if shutil.which("nvidia-smi") is None:
        return False
    return subprocess.call(["nvidia-smi"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0


def gpu_flags(gpus_wanted, wait=GPU_WAIT):
    """docker run's flags for the instance's GPUs.

    On a GPU image the driver can still be loading when the job starts, so
    when the job asked for GPUs it is waited for (up to `wait` seconds); a
    job that asked for GPUs and gets none fails here, rather than running on
    the CPU for hours unnoticed. A GPU instance the job did not ask for
    (`--instance-type g5.xlarge` alone) still gets its GPUs."""
    deadline = time.monotonic() + (wait if gpus_wanted > 0 else 0)
    while True:
        if nvidia_ready():
            return ["--gpus", "all"]
        if time.monotonic() >= deadline:
            break
        time.sleep(5)
    if gpus_wanted > 0:
        raise RuntimeError("the job asked for %d GPU(s) but nvidia-smi found no working NVIDIA "
                           "driver after %ds: boot a GPU image (hoist's default for GPU "
                           "types, or --image with an AMI that has the NVIDIA driver and "
                           "container toolkit)" % (gpus_wanted, int(wait)))
    return []
