"""How the script runs: in a container (the default), or with the host's
python3 in a venv where no Docker engine can run (HOIST_RUNTIME=process).

The container sees the code and the inputs read-only and only its output
folder writable, runs as an unprivileged user with no capabilities, and gets
no AWS credentials: the instance's metadata service answers only one hop
away (the launch sets its hop limit to 1), and the container is never put
on the host's network on EC2.
"""
import os
import subprocess

# The user the script runs as: not root, and not a user of the host's.
CONTAINER_USER = os.environ.get("HOIST_CONTAINER_USER", "1000:1000")


def docker_mode():
    return os.environ.get("HOIST_RUNTIME", "docker") != "process"


def network():
    """docker run's network: Docker's default (its bridge) unless the host
    says otherwise (HOIST_DOCKER_NETWORK, set only by an emulated host)."""
    return os.environ.get("HOIST_DOCKER_NETWORK") or ""


def prepare_output(path, user=CONTAINER_USER, tree=False):
    """A folder the script writes (its outputs, its checkpoint), owned by
    the container's user (the agent runs as root and reads it back either
    way); with tree, everything in it too (a checkpoint the agent restored:
    nothing in it is a link, the agent made each file)."""
    os.makedirs(path, exist_ok=True)
    uid, _, gid = user.partition(":")
    paths = [path]
    if tree:
        for d, dirs, names in os.walk(path):
            paths += [os.path.join(d, n) for n in dirs + names]
    for p in paths:
        try:
            os.lchown(p, int(uid), int(gid or uid))
        except (OSError, ValueError):
            os.chmod(p, 0o777 if os.path.isdir(p) else 0o666)


def docker_command(name, image_ref, code, inputs, output, entry, args, gpu_flags=(),
                   extra_env=None, labels=None, user=CONTAINER_USER, checkpoint=None):
    """The `docker run` command line of the job's script."""
    cmd = ["docker", "run", "--rm", "--name", name, "--init",
           "--user", user, "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
           "--pids-limit", "32768"]
    for k, v in sorted((labels or {}).items()):
        cmd += ["--label", "%s=%s" % (k, v)]
    if network():
        cmd += ["--network", network()]
    cmd += list(gpu_flags)
    env = {"PYTHONUNBUFFERED": "1", "HOME": "/tmp", "HOIST_INPUT": "/input", "HOIST_OUTPUT": "/output"}
    if checkpoint:
        env["HOIST_CHECKPOINT"] = "/checkpoint"
    env.update(extra_env or {})
    for k in sorted(env):
        cmd += ["-e", "%s=%s" % (k, env[k])]
    cmd += ["-v", code + ":/opt/hoist/code:ro",
            "-v", inputs + ":/input:ro",
            "-v", output + ":/output:rw"]
    if checkpoint:
        cmd += ["-v", checkpoint + ":/checkpoint:rw"]
    cmd += ["-w", "/opt/hoist/code", image_ref, "python", entry, "-i", "/input", "-o", "/output"]
    return cmd + [str(a) for a in args]


def process_command(venv, inputs, output, entry, args):
    """The venv runtime's command line (run from the code folder)."""
    return [os.path.join(venv, "bin", "python"), entry, "-i", inputs, "-o", output] + [str(a) for a in args]


def kill(name, signal_name):
    subprocess.call(["docker", "kill", "--signal", signal_name, name],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def remove(name):
    """Ends and removes the container if it is still there (quietly)."""
    subprocess.call(["docker", "rm", "--force", name],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
