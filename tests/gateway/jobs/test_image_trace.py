"""`clearance audit image FILE.png` and `POST /admin/audit/images`: an image a job delivered is
traced to its job, decision and licenses, proven by the digest its outcome event recorded; an
altered image, an image without provenance and a tampered audit log are not."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
from pathlib import Path
from typing import Any

from PIL import Image, PngImagePlugin
from sqlalchemy import text

from registry.db.engine import create_engine
from tests.gateway.auth.conftest import PEPPER
from tests.gateway.jobs.conftest import Gateway, sd_job
from tests.support_served import CLI


async def _trace(gateway: Gateway, path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CLEARANCE_DATA_DIR": str(gateway.settings.data_dir),
        "CLEARANCE_DATABASE_URL": gateway.settings.database_url,
        "CLEARANCE_SECRET_PEPPER": PEPPER,
    }
    command = [*CLI, "audit", "image", str(path)]
    return await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, timeout=120, check=False
    )


async def _delivered(gateway: Gateway, tmp_path: Path) -> tuple[dict[str, Any], Path]:
    job = (await gateway.submit(sd_job(steps=2, num_images=2), Prefer="wait=60")).json()
    assert job["status"] == "succeeded", job
    path = tmp_path / "second.png"
    path.write_bytes((await gateway.get(job["images"][1])).content)
    return job, path


async def test_a_delivered_image_is_traced_to_its_job_and_licenses(gateway: Gateway, tmp_path: Path) -> None:
    job, path = await _delivered(gateway, tmp_path)
    traced = await _trace(gateway, path)
    assert traced.returncode == 0, traced.stderr
    assert f"is image 1 of job {job['id']}" in traced.stdout
    decision = job["decision"]
    for named in [*decision["licenses"], *decision["agreements"]]:
        assert named in traced.stdout
    assert f"decision: {decision['id']}" in traced.stdout
    assert "events verified" in traced.stdout


async def test_an_altered_image_is_not_proven(gateway: Gateway, tmp_path: Path) -> None:
    job, path = await _delivered(gateway, tmp_path)
    image = Image.open(path)
    kept = PngImagePlugin.PngInfo()
    for key, value in image.text.items():  # its provenance, word for word
        kept.add_text(key, value)
    pixels = image.convert("RGB")
    pixels.putpixel((0, 0), (255, 0, 0) if pixels.getpixel((0, 0)) != (255, 0, 0) else (0, 0, 0))
    buffer = io.BytesIO()
    pixels.save(buffer, format="PNG", pnginfo=kept)
    altered = tmp_path / "altered.png"
    altered.write_bytes(buffer.getvalue())
    traced = await _trace(gateway, altered)
    assert traced.returncode == 1, traced.stdout + traced.stderr
    assert "NOT PROVEN" in traced.stdout
    assert str(job["id"]) in traced.stdout


async def test_an_image_without_provenance_cannot_be_traced(gateway: Gateway, tmp_path: Path) -> None:
    plain = tmp_path / "plain.png"
    Image.new("RGB", (8, 8)).save(plain)
    traced = await _trace(gateway, plain)
    assert traced.returncode == 2
    assert "no Clearance provenance" in traced.stderr
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("hello")
    traced = await _trace(gateway, not_an_image)
    assert traced.returncode == 2
    assert "not a PNG image" in traced.stderr
    assert "object at 0x" not in traced.stderr  # Pillow's name for the buffer is noise to a reader


async def test_a_tampered_audit_log_proves_nothing(gateway: Gateway, tmp_path: Path) -> None:
    _, path = await _delivered(gateway, tmp_path)
    engine = create_engine(gateway.settings.database_url)
    try:
        async with engine.begin() as connection:  # what an attacker with the database could do
            await connection.execute(text("DROP TRIGGER audit_events_reject_update"))
            rewrite = "UPDATE audit_events SET payload = replace(payload, 'succeeded', 'failed')"
            await connection.execute(text(rewrite + " WHERE kind = 'job.outcome'"))
    finally:
        await engine.dispose()
    traced = await _trace(gateway, path)
    assert traced.returncode == 1
    assert "TAMPERED" in traced.stdout


async def test_the_admin_api_traces_an_image_too(gateway: Gateway, tmp_path: Path) -> None:
    job, path = await _delivered(gateway, tmp_path)
    admin = {**await gateway.headers(scopes="admin"), "Content-Type": "image/png"}
    answer = await gateway.http.post("/admin/audit/images", content=path.read_bytes(), headers=admin)
    assert answer.status_code == 200, answer.text
    trace = answer.json()
    assert (trace["verdict"], trace["job_id"], trace["index"]) == ("proven", job["id"], 1)
    assert trace["licenses"] == job["decision"]["licenses"]
    assert trace["decision_id"] == job["decision"]["id"]

    altered = path.read_bytes() + b"bytes after the image's end"  # still a PNG, not the one delivered
    answer = await gateway.http.post("/admin/audit/images", content=altered, headers=admin)
    assert answer.status_code == 200, answer.text
    assert answer.json()["verdict"] == "not_proven"

    refused = await gateway.http.post("/admin/audit/images", content=b"not a png", headers=admin)
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "not a PNG image" in refused.json()["detail"]
    tenant_only = await gateway.headers()  # jobs scopes, no admin
    forbidden = await gateway.http.post("/admin/audit/images", content=path.read_bytes(), headers=tenant_only)
    assert forbidden.status_code == 403
