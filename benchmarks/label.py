"""Labeling throughput: end-to-end rows/s of `python -m openmind.label`'s job (read -> decode -> resize -> infer -> parse ->
write), measured in the same run against a peer.

    cpu   the shapes world (>= 2,000 images), a tiny random-weight OpenMind through the `openmind` backend (one ground()
          request per caption phrase, at most 24 new tokens), 1 vs 2 Ray CPU workers -> the scaling ratio; the rows are
          pushed through the whole job (files, phrases, model, parser, hygiene, fsync'd writes), so the pipeline's own
          cost shows beside a cheap model
    gpu   a Qwen2.5-VL-7B-shaped model with random weights (bf16), answers of exactly 64 new tokens, batch 8 vs 32,
          one GPU, the `qwen2.5-vl` backend through the whole job (`run_label` with the model as built), >= 2,000 images
          of 448 px after a warm-up batch -> images/s (end to end, and after the first batch) and output tokens per image
                                                                                                   (CUDA only)

    python benchmarks/label.py                 # cpu (and gpu when CUDA is available)
    python benchmarks/label.py --rows 2000 --skip-gpu
    python benchmarks/label.py --skip-cpu --gpu-dry-run --gpu-rows 48 --batch-sizes 8 16   # the gpu code on the CPU, tiny
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


def gpu(rows: int, tmp: Path, batch_sizes=(8, 32), dry_run: bool = False) -> dict:
    """The `qwen2.5-vl` backend on a Qwen2.5-VL-7B-shaped random model through the whole job (`run_label`: read -> decode ->
    phrases -> processor (smart_resize) -> generate -> parse -> hygiene -> fsync'd write), one run per batch size.
    `dry_run`: the same code on the CPU with 2-layer, 64-wide towers (the real 152,064-token vocabulary), to check the path."""
    from openmind.label import random_qwen25vl, QWEN25VL_7B, QWEN25VL_TINY, QwenBackend, LabelJob, run_label, label_batch, LabelSettings, table_rows
    from openmind.shapes import generate
    device, name = ('cpu', 'cpu (dry run)') if dry_run else ('cuda', torch.cuda.get_device_name())
    size = {'text': {**QWEN25VL_TINY['text'], 'vocab_size': QWEN25VL_7B['text']['vocab_size']}, 'vision': QWEN25VL_TINY['vision']} if dry_run else QWEN25VL_7B
    warm = max(batch_sizes)
    world = tmp / 'gworld'; generate(world, n_train=0, n_val=rows + warm, seed=4, size=448)   # 448 px: 256 visual tokens after the 2x2 merge
    lines = (world / 'val/wukong.tsv').read_text().splitlines()
    (world / 'val/bench.tsv').write_text('\n'.join([lines[0], *lines[1 + warm:]]) + '\n')
    t0 = time.perf_counter()
    proc, model = random_qwen25vl(tmp / 'q7b', size, dtype=torch.float32 if dry_run else torch.bfloat16, save=False)
    build_s = time.perf_counter() - t0
    # the model as built (no 16 GB save and reload); exactly 64 new tokens per image: a fixed output length
    qb = QwenBackend(model, processor=proc, device=device, max_new_tokens=64, generate_kwargs={'min_new_tokens': 64})
    warm_rows, _ = table_rows(world / 'val/wukong.tsv', limit=warm)
    sync = torch.cuda.synchronize if device == 'cuda' else (lambda: None)
    out = {}
    for bs in batch_sizes:
        label_batch(warm_rows[:bs], qb, LabelSettings(out_dir=str(tmp)))          # warm-up: kernels, allocator
        sync()
        if device == 'cuda': torch.cuda.reset_peak_memory_stats()
        s = run_label(LabelJob(str(world / 'val/bench.tsv'), str(tmp / f'gpu{bs}/labels.jsonl'), batch_size=bs, progress=False), backend=qb)
        out[bs] = {'rows': s['labelled_now'], 'images/s': s['rows_per_s'], 'images/s after the first batch': s['steady_rows_per_s'],
                   'output tokens/image': 64, 'statuses': {k: v for k, v in s['statuses'].items() if v},
                   **({'peak GiB': round(torch.cuda.max_memory_allocated() / 2**30, 1)} if device == 'cuda' else {})}
        print(f"{name}: batch {bs}: {out[bs]}", flush=True)
    return {'device': name, 'model build s': round(build_s, 1),
            **{f'batch {b}': v for b, v in out.items()}, 'ratio': round(out[batch_sizes[-1]]['images/s'] / out[batch_sizes[0]]['images/s'], 2)}


if __name__ == '__main__':
    p = argparse.ArgumentParser(); p.add_argument('--rows', type=int, default=2000); p.add_argument('--gpu-rows', type=int, default=2000)
    p.add_argument('--batch-sizes', type=int, nargs='+', default=[8, 32], help='gpu: one whole job per batch size (the first is the peer)')
    p.add_argument('--skip-cpu', action='store_true'); p.add_argument('--skip-gpu', action='store_true')
    p.add_argument('--gpu-dry-run', action='store_true', help="run the gpu part's code on the CPU with a tiny model (checks the path, times nothing)")
    a = p.parse_args(); tmp = Path(tempfile.mkdtemp()); os.environ.setdefault('TQDM_DISABLE', '1')
    res = {}
    if not a.skip_cpu: res['cpu'] = cpu(a.rows, tmp)
    if a.gpu_dry_run: res['gpu dry run'] = gpu(a.gpu_rows, tmp, a.batch_sizes, dry_run=True)
    elif torch.cuda.is_available() and not a.skip_gpu: res['gpu'] = gpu(a.gpu_rows, tmp, a.batch_sizes)
    print(json.dumps(res, indent=1))
