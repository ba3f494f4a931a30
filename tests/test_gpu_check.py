"""benchmarks/gpu_check.py (run by benchmarks/gpu_check.sh): the backend follows the
machine (FBGEMM where a CUDA fbgemm-gpu is installed, the tiered backend on CUDA without
it, nothing without CUDA), and --dry-run lists the backend, the steps and the wheels."""

import importlib.util
import subprocess
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
gpu_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gpu_check)


@pytest.mark.parametrize("cuda, fbgemm, backend", [
    (False, False, "none"), (False, True, "none"), (True, False, "tiered"),
    (True, True, "fbgemm")])
def test_backend_follows_cuda_and_fbgemm(monkeypatch, cuda, fbgemm, backend):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(gpu_check, "fbgemm_cuda", lambda: fbgemm)
    assert gpu_check.choose_backend() == backend


def test_fbgemm_cpu_build_is_not_a_cuda_fbgemm():
    if importlib.util.find_spec("fbgemm_gpu") is None:
        pytest.skip("no fbgemm_gpu here")
    # this venv holds fbgemm-gpu-cpu (README), which has no GPU cache
    assert gpu_check.fbgemm_cuda() is False


def test_tiered_fallback_runs_its_steps_on_faked_cuda(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(gpu_check, "fbgemm_cuda", lambda: False)
    monkeypatch.setattr(gpu_check, "gpu_name", lambda: "nvidia_h100")
    monkeypatch.setattr(gpu_check, "install_wheels", lambda py, env: None)
    ran = []
    monkeypatch.setattr(gpu_check.subprocess, "run",
                        lambda cmd, **kw: ran.append(cmd) or subprocess.CompletedProcess(cmd, 0))
    assert gpu_check.main(["python3"]) == 0
    assert ran == [["python3", "-P", "-m", "recsim.cli", "calibrate", "--backend", "tiered",
                    "--device", "cuda", "-o", "calibrations/nvidia_h100_tiered.json"]]
    assert "tiered backend" in capsys.readouterr().out
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check.main(["python3"]) == 2 and len(ran) == 1


def test_dry_run_lists_backend_steps_and_wheels(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(gpu_check, "WHEELS", tmp_path)
    monkeypatch.setattr(gpu_check, "ROOT", tmp_path.parent)
    (tmp_path / "pydantic-2-py3-none-any.whl").write_bytes(b"x" * 2**20)
    (tmp_path / "recsim-0.1.0-py3-none-any.whl").write_bytes(b"x" * 2**19)
    assert gpu_check.main(["--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "backend here none" in out and "backend tiered" in out
    assert "step 1: calibrate the tiered backend on CUDA" in out
    assert "recsim-0.1.0-py3-none-any.whl 0.50 MiB" in out
    assert "wheels total 1.50 MiB of the 64 MiB" in out


def test_dry_run_of_the_shell_script():
    out = subprocess.run([str(ROOT / "benchmarks" / "gpu_check.sh"), "--dry-run"],
                         capture_output=True, text=True, check=True).stdout
    assert "gpu_check: backend here" in out and "wheels total" in out
