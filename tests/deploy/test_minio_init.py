"""deploy/minio-init.sh against a stand-in ``mc`` that records its calls (no MinIO binary
can be installed here): the bucket, a policy for that bucket only, the app's user, and a
second run that changes nothing it should not."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FAKE_MC = """#!/bin/sh
echo "$*" >> "$MC_LOG"
case "$*" in
  "admin policy create "*) cp "$6" "$MC_LOG.policy" ;;
  "admin user info "*) [ -n "$MC_ATTACHED" ] && echo "PolicyName: plugboard-app-shop-files" ;;
esac
exit 0
"""


def _run(tmp: Path, **extra: str) -> list[str]:
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "mc").write_text(FAKE_MC)
    (bin_dir / "mc").chmod(0o755)
    log = tmp / "mc.log"
    log.unlink(missing_ok=True)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "MC_LOG": str(log), "MINIO_ROOT_USER": "root",
           "MINIO_ROOT_PASSWORD": "root-secret", "MINIO_APP_USER": "app", "MINIO_APP_PASSWORD": "app-secret",
           "PLUGBOARD_S3_BUCKET": "shop-files", **extra}
    done = subprocess.run(["/bin/sh", str(ROOT / "deploy" / "minio-init.sh")], env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "root-secret" not in done.stdout + done.stderr
    return log.read_text().splitlines()


def test_bucket_user_and_a_policy_for_that_bucket_only(tmp_path: Path) -> None:
    calls = _run(tmp_path)
    assert calls[0] == "alias set local http://minio:9000 root root-secret"
    assert "mb --ignore-existing local/shop-files" in calls
    assert "admin user add local app app-secret" in calls
    assert "admin policy attach local plugboard-app-shop-files --user app" in calls
    policy = json.loads((tmp_path / "mc.log.policy").read_text())
    resources = {r for statement in policy["Statement"] for r in statement["Resource"]}
    assert resources == {"arn:aws:s3:::shop-files", "arn:aws:s3:::shop-files/*"}
    actions = {a for statement in policy["Statement"] for a in statement["Action"]}
    assert not any(a.startswith(("admin:", "s3:*", "s3:PutBucketPolicy", "s3:DeleteBucket")) for a in actions)


def test_a_second_run_does_not_attach_again(tmp_path: Path) -> None:
    calls = _run(tmp_path, MC_ATTACHED="1")
    assert not any(call.startswith("admin policy attach") for call in calls)
    assert "admin user add local app app-secret" in calls  # a changed password is applied


def test_missing_credentials_stop_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINIO_")}
    done = subprocess.run(["/bin/sh", str(ROOT / "deploy" / "minio-init.sh")], env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode != 0 and "MINIO_ROOT_USER" in done.stderr
