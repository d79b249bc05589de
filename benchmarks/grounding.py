"""Grounding of the tiny model trained from scratch, with and without the projector's centring, in the same run.

Each variant trains the tiny preset on the grounding mode alone (the trainer of `openmind.train`, batch 32, lr 3e-3,
the default data) and is scored on the phrases of the first 100 validation scenes:

    accuracy / mean IoU      first predicted box against the phrase's box (IoU >= 0.5)
    by objects in the scene  1, 2 and 3 objects
    any object               the box hits *some* object of the scene (localising without binding the phrase)
    picked the phrase's      among boxes that hit an object, how often it is the phrase's (chance: 1/2, 1/3)
    phrase-blind scenes      multi-object scenes where every phrase got the same box
    nearer the phrase's      multi-object phrases whose predicted box centre is nearer the phrase's object than any
                             other (chance: the mean of 1/objects, 0.42 on these scenes)

    plain     projector_center=false (the tiny preset before session 6)
    centred   projector_center=true  (the tiny preset)

    python benchmarks/grounding.py                 # 800 steps per variant, ~5 min on 2 cores
    python benchmarks/grounding.py --steps 200     # quicker, noisier
    python benchmarks/grounding.py --checkpoint runs/tiny   # score a trained run instead (its final model)
"""
import argparse, json, os, platform, tempfile, time
from pathlib import Path
import torch
os.environ.setdefault('TQDM_DISABLE', '1')
from transformers.utils import logging as hf_logging
from openmind.boxes import box_iou
from openmind.data import read_records
from openmind.model import OpenMind
from openmind.train import run

hf_logging.disable_progress_bar(); hf_logging.set_verbosity_error()
DATA = Path('data/shapes')
MODE = '{grounding: {weight: 1.0, batch_size: 32, train: train/layout.jsonl, val: val/layout.jsonl}}'


def train(center: bool, steps: int, out: Path) -> tuple[OpenMind, float, float]:
    t = time.time()
    rep = run('tiny', [f'modes={MODE}', f'steps={steps}', f'out={out}', f'model_args={{projector_center: {str(center).lower()}}}',
                       'eval_every=1000000', f'save_every={steps}', 'keep=1'])
    return OpenMind.from_pretrained(rep['model']).eval(), rep.get('val/grounding', float('nan')), time.time() - t


def score(m: OpenMind, n_scenes: int = 100) -> dict:
    rows, blind, multi, nearer = [], 0, 0, []
    for r in list(read_records(DATA / 'val/layout.jsonl'))[:n_scenes]:
        pred = m.ground([r.image] * len(r.objects), [o['phrase'] for o in r.objects])
        gts = torch.tensor([o['box'] for o in r.objects])
        boxes = [tuple(b[0].tolist()) if len(b) else None for b in pred]
        if len(r.objects) > 1: multi += 1; blind += len(set(boxes)) == 1
        centres = (gts[:, :2] + gts[:, 2:]) / 2
        for k, b in enumerate(pred):
            if len(r.objects) > 1 and len(b):
                d = (centres - (b[0, :2] + b[0, 2:]) / 2).norm(dim=1)
                nearer.append((int(d.argmin() == k and (d == d[k]).sum() == 1), 1 / len(r.objects)))
            ious = box_iou(b[:1], gts)[0] if len(b) else torch.zeros(len(gts))
            rows.append((len(r.objects), float(ious[k]), float(ious.max()), int(ious.argmax() == k)))
    t = torch.tensor(rows)
    res = {'n': len(t), 'accuracy': (t[:, 1] >= .5).float().mean().item(), 'mean_iou': t[:, 1].mean().item(),
           'phrase_blind_scenes': blind / max(multi, 1)}
    nt = torch.tensor(nearer, dtype=torch.float).reshape(-1, 2)
    res['nearer_phrase'], res['nearer_chance'] = nt[:, 0].mean().item(), nt[:, 1].mean().item()
    for n in (1, 2, 3):
        s = t[t[:, 0] == n]; hit = s[s[:, 2] >= .5]
        res[f'{n}obj'] = {'n': len(s), 'accuracy': (s[:, 1] >= .5).float().mean().item(), 'any_object': (s[:, 2] >= .5).float().mean().item(),
                          'picked_phrase': hit[:, 3].mean().item() if len(hit) else float('nan')}
    return res


def table(res: dict):
    print("\n| variant | val loss | accuracy | mean IoU | acc 1 / 2 / 3 objects | any object 2 / 3 | picked the phrase's 2 / 3 | "
          "phrase-blind scenes | nearer the phrase's (chance) |")
    print('|---|---|---|---|---|---|---|---|---|')
    for k, r in res.items():
        o = [r[f'{n}obj'] for n in (1, 2, 3)]
        val = format(r['val_loss'], '.3f') if 'val_loss' in r else '–'
        print(f"| {k} | {val} | {r['accuracy']:.3f} | {r['mean_iou']:.3f} | "
              f"{' / '.join(format(x['accuracy'], '.2f') for x in o)} | {o[1]['any_object']:.2f} / {o[2]['any_object']:.2f} | "
              f"{o[1]['picked_phrase']:.2f} / {o[2]['picked_phrase']:.2f} | {r['phrase_blind_scenes']:.2f} | "
              f"{r['nearer_phrase']:.3f} ({r['nearer_chance']:.3f}) |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--steps', type=int, default=800)
    ap.add_argument('--checkpoint', help='score this trained model (a run folder or a model folder) instead of training')
    a = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    machine = f'{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}'
    if a.checkpoint:
        path = Path(a.checkpoint) / 'final' if (Path(a.checkpoint) / 'final').is_dir() else Path(a.checkpoint)
        print(f'# {machine}; scoring {path}')
        return table({str(path): score(OpenMind.from_pretrained(path).eval())})
    print(f'# {machine}; grounding only, {a.steps} steps × 32')
    res = {}
    with tempfile.TemporaryDirectory() as d:
        for name, center in (('plain', False), ('centred', True)):
            m, val, secs = train(center, a.steps, Path(d) / name)
            res[name] = {'val_loss': val, 'train_s': round(secs), **score(m)}
            print(name, json.dumps(res[name]), flush=True)
    table(res)
    print(f"\naccuracy ratio centred / plain: {res['centred']['accuracy'] / max(res['plain']['accuracy'], 1e-9):.1f}×")


if __name__ == '__main__':
    main()
