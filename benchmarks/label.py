"""Labeling throughput: end-to-end rows/s of `python -m openmind.label`'s job (read -> decode -> resize -> infer -> parse ->
write), measured in the same run against a peer.

    cpu   the shapes world (>= 2,000 images), a tiny random-weight OpenMind through the `openmind` backend (one ground()
          request per caption phrase, at most 24 new tokens), 1 vs 2 Ray CPU workers -> the scaling ratio; the rows are
          pushed through the whole job (files, phrases, model, parser, hygiene, fsync'd writes), so the pipeline's own
          cost shows beside a cheap model
    gpu   a Qwen2.5-VL-7B-shaped model with random weights (bf16), answers of exactly 64 new tokens, batch 8 vs 32,
          one GPU, the `qwen2.5-vl` backend -> images/s and output tokens per image              (CUDA only)

    python benchmarks/label.py                 # cpu (and gpu when CUDA is available)
    python benchmarks/label.py --rows 2000 --skip-gpu
"""
import argparse, json, os, shutil, sys, tempfile, time
from pathlib import Path
import torch


def job_rows_per_s(tsv, out, **kw):
    from openmind.label import LabelJob, run_label
    shutil.rmtree(Path(out).parent, ignore_errors=True)
    s = run_label(LabelJob(str(tsv), str(out), progress=False, **kw))
    return s['rows_per_s'], s


def cpu(rows: int, tmp: Path) -> dict:
    from openmind.shapes import generate
    from openmind.model import OpenMind
    world = tmp / 'world'; generate(world, n_train=0, n_val=rows + 64, seed=3)
    lines = (world / 'val/wukong.tsv').read_text().splitlines()
    (world / 'val/bench.tsv').write_text('\n'.join([lines[0], *lines[65:]]) + '\n')
    torch.manual_seed(0); OpenMind.from_config('tiny').save_pretrained(tmp / 'om')
    kw = dict(backend='openmind', model=str(tmp / 'om'), batch_size=16, ray=True)
    res = {}
    for n in (1, 2):
        res[n], summ = job_rows_per_s(world / 'val/bench.tsv', tmp / f'run{n}/labels.jsonl', num_workers=n, **kw)
        res[f'{n} first records s'], res[f'{n} rows/s after first records'] = summ['startup_s'], summ['steady_rows_per_s']
        print(f"cpu: {n} Ray worker(s): {res[n]:.1f} rows/s end to end (Ray and model start-up included), first records after "
              f"{summ['startup_s']} s, {summ['steady_rows_per_s']} rows/s after that, over {summ['labelled_now']} rows", flush=True)
    return {'rows': rows, '1 worker rows/s': res[1], '2 workers rows/s': res[2], 'scaling 2/1': round(res[2] / res[1], 3),
            **{k: v for k, v in res.items() if isinstance(k, str)}}


def gpu(rows: int, tmp: Path) -> dict:
    from openmind.label import random_qwen25vl, QWEN25VL_7B, QwenBackend, label_batch, LabelSettings
    from openmind.shapes import generate
    from openmind.data import read_pairs
    world = tmp / 'gworld'; generate(world, n_train=0, n_val=rows, seed=4, size=448)
    proc, model = random_qwen25vl(tmp / 'q7b', QWEN25VL_7B, dtype=torch.bfloat16, save=False)
    # the loaded model (no save/load round trip of 16 GB); exactly 64 new tokens per image: a fixed output length
    qb = QwenBackend(model, processor=proc, device='cuda', max_new_tokens=64, generate_kwargs={'min_new_tokens': 64})
    rws = [{'id': r.line, 'image': r.source, 'caption': r.caption} for r in read_pairs(world / 'val/wukong.tsv')]
    out = {}
    for bs in (8, 32):
        label_batch(rws[:bs], qb)                                    # warm-up
        torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats(); t0 = time.perf_counter()
        for k in range(0, len(rws), bs): label_batch(rws[k:k + bs], qb, LabelSettings(out_dir=str(tmp)))
        torch.cuda.synchronize(); dt = time.perf_counter() - t0
        out[bs] = {'images/s': round(len(rws) / dt, 2), 'output tokens/image': 64, 'peak GiB': round(torch.cuda.max_memory_allocated() / 2**30, 1)}
        print(f"gpu {torch.cuda.get_device_name()}: batch {bs}: {out[bs]}", flush=True)
    return {'device': torch.cuda.get_device_name(), **{f'batch {b}': v for b, v in out.items()}}


if __name__ == '__main__':
    p = argparse.ArgumentParser(); p.add_argument('--rows', type=int, default=2000); p.add_argument('--gpu-rows', type=int, default=512)
    p.add_argument('--skip-cpu', action='store_true'); p.add_argument('--skip-gpu', action='store_true')
    a = p.parse_args(); tmp = Path(tempfile.mkdtemp()); os.environ.setdefault('TQDM_DISABLE', '1')
    res = {}
    if not a.skip_cpu: res['cpu'] = cpu(a.rows, tmp)
    if torch.cuda.is_available() and not a.skip_gpu: res['gpu'] = gpu(a.gpu_rows, tmp)
    print(json.dumps(res, indent=1))
