"""Static checks of Dockerfile.cpu and Dockerfile.gpu (the GPU image cannot be built on a CPU machine)."""
import fnmatch
import json
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ALGORITHMS = ("image-classification", "object-detection", "semantic-segmentation")


def instructions(name: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments dropped."""
    text = (REPO / name).read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    result = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, args = line.strip().partition(" ")
            result.append((keyword.upper(), " ".join(args.split())))
    return result


def env_keys(steps) -> set[str]:
    keys = set()
    for keyword, args in steps:
        if keyword == "ENV":
            keys |= set(re.findall(r"(\w+)=", args))
    return keys


def arg_default(steps, name: str) -> str | None:
    for keyword, args in steps:
        if keyword == "ARG" and args.startswith(name + "="):
            return args.split("=", 1)[1]
    return None


def pins() -> dict[str, str]:
    result = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            result[name.strip().lower()] = version.strip()
    return result


@pytest.fixture(scope="module", params=["Dockerfile.cpu", "Dockerfile.gpu"])
def dockerfile(request):
    return request.param, instructions(request.param)


def test_entrypoint_is_exec_form_python_module(dockerfile):
    _, steps = dockerfile
    entrypoints = [args for keyword, args in steps if keyword == "ENTRYPOINT"]
    assert len(entrypoints) == 1
    # Exec form (JSON list): python is PID 1 and gets SIGTERM itself; no shell, no tini.
    assert json.loads(entrypoints[0]) == ["python", "-m", "container"]
    assert not [args for keyword, args in steps if keyword == "CMD"]
    assert "tini" not in " ".join(args for _, args in steps)


def test_algorithm_build_arg_is_used_only_in_the_last_instruction(dockerfile):
    _, steps = dockerfile
    assert steps[-1] == ("ENV", "SAGEMAKER_ALGORITHM=${ALGORITHM}")
    assert steps[-2][0] == "ARG" and steps[-2][1].startswith("ALGORITHM")
    assert all("ALGORITHM}" not in args and "$ALGORITHM" not in args for _, args in steps[:-1])


def test_cpu_and_gpu_images_share_entry_environment_and_code():
    cpu, gpu = instructions("Dockerfile.cpu"), instructions("Dockerfile.gpu")
    assert env_keys(cpu) == env_keys(gpu)
    assert {"SAGEMAKER_ALGORITHM", "SMLOCAL_MODEL_STORE", "PIP_CERT", "PYTHONUNBUFFERED"} <= env_keys(cpu)
    same = lambda steps: [s for s in steps if s[0] in ("ENV", "ENTRYPOINT", "WORKDIR") or
                          (s[0] == "COPY" and "install-training-stack" not in s[1])]
    assert same(cpu) == same(gpu)


def test_base_images_are_build_args_with_public_defaults():
    cpu, gpu = instructions("Dockerfile.cpu"), instructions("Dockerfile.gpu")
    assert arg_default(cpu, "BASE_IMAGE") == "debian:bookworm-slim"
    gpu_base = arg_default(gpu, "BASE_IMAGE")
    assert gpu_base.startswith("nvidia/cuda:11.7") and "cudnn8-runtime" in gpu_base
    for steps in (cpu, gpu):
        assert ("FROM", "${BASE_IMAGE}") in steps


def test_stack_comes_from_constraints_with_the_right_mxnet_build():
    versions = pins()
    assert versions["mxnet-cu117"] == versions["mxnet"] == "1.9.1"
    installs = {}
    for name in ("Dockerfile.cpu", "Dockerfile.gpu"):
        runs = [args for keyword, args in instructions(name) if keyword == "RUN" and "install-training-stack" in args]
        assert len(runs) == 1
        installs[name] = runs[0].split()[-1]
    assert installs == {"Dockerfile.cpu": "mxnet", "Dockerfile.gpu": "mxnet-cu117"}
    script = (REPO / "docker" / "install-training-stack.sh").read_text()
    assert '-c "$REQ/constraints.txt" -r "$REQ/requirements-image.txt"' in script
    assert "--no-deps" in script and "gluoncv" in script
    assert "mxnet" in (REPO / "requirements-train.txt").read_text().split()


def test_install_script_swaps_in_the_gpu_mxnet(tmp_path):
    """Run the script's requirement rewrite with a fake python, as far as the pin check."""
    req = tmp_path / "req"
    req.mkdir()
    for name in ("constraints.txt", "requirements-train.txt"):
        (req / name).write_text((REPO / name).read_text())
    (req / "constraints.txt").write_text((req / "constraints.txt").read_text().replace("mxnet-cu117==", "#"))
    fake_python = tmp_path / "python"
    fake_python.write_text("#!/bin/sh\nexit 0\n")
    fake_python.chmod(0o755)
    script = REPO / "docker" / "install-training-stack.sh"
    # /opt/venv/bin/pip is never reached: the missing pin stops the script first.
    result = subprocess.run(["sh", str(script), str(fake_python), str(req), "mxnet-cu117"],
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "mxnet-cu117 has no pin in constraints.txt" in result.stderr
    image_reqs = (req / "requirements-image.txt").read_text().split()
    assert "mxnet-cu117" in image_reqs and "mxnet" not in image_reqs


def dockerignore_allows(path: str) -> bool:
    allowed = False
    for pattern in (REPO / ".dockerignore").read_text().splitlines():
        pattern = pattern.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/"):
            allowed = negate
    return allowed


def test_build_context_holds_what_the_images_copy_and_nothing_else(dockerfile):
    _, steps = dockerfile
    sources = [src for keyword, args in steps if keyword == "COPY" and not args.startswith("--from=")
               for src in args.split()[:-1]]  # COPY --from copies from a stage, not the context
    assert sources
    for src in sources:
        assert (REPO / src).exists(), src
        assert dockerignore_allows(src.rstrip("/")), f"{src} is excluded by .dockerignore"
    for private in ("emulator", "tests", ".venv", ".git", "docker/extra-ca/README.md"):
        assert not dockerignore_allows(private), private


def test_makefile_builds_three_tags_from_one_dockerfile_on_the_host_network():
    out = subprocess.run(["make", "-n", "build", "build-gpu", "BASE_IMAGE=localbase:bookworm"], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout
    assert "for algo in " + " ".join(ALGORITHMS) in out
    assert "docker build --network host -f Dockerfile.cpu --build-arg BASE_IMAGE=localbase:bookworm" in out
    assert "--build-arg ALGORITHM=$algo -t smlocal/$algo:latest" in out
    assert "-f Dockerfile.gpu --build-arg BASE_IMAGE=nvidia/cuda:11.7" in out
    assert "-t smlocal/$algo:gpu" in out
    assert "cp /usr/local/share/ca-certificates/*.crt docker/extra-ca/" in out


def test_extra_ca_certificates_are_never_committed():
    assert "docker/extra-ca/*.crt" in (REPO / ".gitignore").read_text().split()
    tracked = subprocess.run(["git", "ls-files", "docker/extra-ca"], cwd=REPO, capture_output=True, text=True).stdout
    assert tracked.split() == ["docker/extra-ca/README.md"]


@pytest.mark.parametrize("script", ["docker/build-base-image.sh", "docker/install-training-stack.sh", ".ci/run"])
def test_shell_scripts_parse(script):
    subprocess.run(["bash", "-n", str(REPO / script)], check=True)
