# ruff: noqa: E501
"""boto3 vs minio against one SeaweedFS: import+client time, 200 x 64 KiB put/get, one 48 MiB file.

Run with a Python that has both clients (S3BENCH_PYTHON, default this one) from the repo root:
``python3.11 -m venv /tmp/s3bench && /tmp/s3bench/bin/pip install boto3 minio &&
S3BENCH_PYTHON=/tmp/s3bench/bin/python .venv/bin/python bench/s3_client.py``
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.seaweedfs import start_seaweedfs

code = r"""
import sys, time, os, secrets
t=time.perf_counter()
which, ep, ak, sk, bucket, big = sys.argv[1:]
if which == "boto3":
    import boto3
    from boto3.s3.transfer import TransferConfig
    c = boto3.client("s3", endpoint_url=ep, aws_access_key_id=ak, aws_secret_access_key=sk, region_name="us-east-1")
    t_imp = time.perf_counter()-t
    put=lambda k,b: c.put_object(Bucket=bucket, Key=k, Body=b)
    get=lambda k: c.get_object(Bucket=bucket, Key=k)["Body"].read()
    tc=TransferConfig(multipart_threshold=16<<20, multipart_chunksize=16<<20)
    up=lambda k,f: c.upload_file(f, bucket, k, Config=tc)
    down=lambda k,f: c.download_file(bucket, k, f, Config=tc)
else:
    import io
    from minio import Minio
    c = Minio(ep.replace("http://",""), access_key=ak, secret_key=sk, secure=False, region="us-east-1")
    t_imp = time.perf_counter()-t
    put=lambda k,b: c.put_object(bucket, k, io.BytesIO(b), len(b))
    def get(k):
        r=c.get_object(bucket, k); d=r.read(); r.close(); r.release_conn(); return d
    up=lambda k,f: c.fput_object(bucket, k, f, part_size=16<<20)
    down=lambda k,f: c.fget_object(bucket, k, f)
blob=secrets.token_bytes(64<<10)
t=time.perf_counter()
for i in range(200): put(f"{which}/small/{i}", blob)
t_put=time.perf_counter()-t
t=time.perf_counter()
for i in range(200): assert get(f"{which}/small/{i}")==blob
t_get=time.perf_counter()-t
t=time.perf_counter(); up(f"{which}/big", big); t_up=time.perf_counter()-t
t=time.perf_counter(); down(f"{which}/big", big+"."+which); t_down=time.perf_counter()-t
assert os.path.getsize(big+"."+which)==os.path.getsize(big)
import resource
print(f"{which}: import+client {t_imp*1000:.0f} ms | 200x64KiB put {t_put:.2f}s get {t_get:.2f}s | 48MiB upload {t_up:.2f}s download {t_down:.2f}s | maxrss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024:.0f} MiB")
"""
with tempfile.TemporaryDirectory() as d:
    big = Path(d) / "big.bin"
    big.write_bytes(os.urandom(48 << 20))
    with start_seaweedfs(Path(d) / "sw") as s:
        for _rep in range(2):
            for which in ("boto3", "minio"):
                out = subprocess.run(
                    [
                        os.environ.get("S3BENCH_PYTHON", sys.executable),
                        "-c",
                        code,
                        which,
                        s.endpoint_url,
                        s.access_key,
                        s.secret_key,
                        s.bucket,
                        str(big),
                    ],
                    capture_output=True,
                    text=True,
                )
                print(out.stdout.strip() or out.stderr[-2000:])
