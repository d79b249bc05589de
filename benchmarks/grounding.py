"""Grounding of the tiny model trained from scratch: plain, with the projector's centring, and with the text before the image, in the same run.

Each variant trains the tiny preset on the grounding mode alone (the trainer of `openmind.train`, batch 32, lr 3e-3,
the default data) and is scored on the phrases of the first 100 validation scenes:

    accuracy / mean IoU      first predicted box against the phrase's boxes (IoU >= 0.5), as `openmind.evaluate` scores grounding
    by objects in the scene  1, 2 and 3 objects
    any object               the box hits *some* object of the scene (localising without binding the phrase)
    picked the phrase's      among boxes that hit an object, how often it is the phrase's (chance: 1/2, 1/3)
    phrase-blind scenes      multi-object scenes where every phrase got the same box
    nearer the phrase's      multi-object phrases whose predicted box centre is nearer the phrase's object than any
                             other (chance: the mean of 1/objects, 0.42 on these scenes)

    plain       projector_center=false, image_first=true   (the first tiny preset)
    centred     projector_center=true,  image_first=true   (centring the projector's input)
    text first  projector_center=true,  image_first=false  (the tiny preset: the prompt's text
                before the image tokens, so they can read the phrase)

    python benchmarks/grounding.py                 # 800 steps per variant, ~8 min on 2 cores
    python benchmarks/grounding.py --steps 1600    # where text first binds (a phase change between 800 and 1,600)
    python benchmarks/grounding.py --steps 200     # quicker, noisier
    python benchmarks/grounding.py --variants "text first" --set model_args.projector=pixel_shuffle
                                                   # one variant with extra training overrides (RESULTS.md's rows;
                                                   # --set is repeatable, key=value as `python -m openmind.train` reads it)
    python benchmarks/grounding.py --checkpoint runs/tiny   # score a trained run instead (its final model), with its
                                                            # colour/shape VQA by objects in the scene
"""
import argparse, json, os, platform, tempfile, time
from pathlib import Path
import torch
os.environ.setdefault('TQDM_DISABLE', '1')
from transformers.utils import logging as hf_logging
from openmind.boxes import box_iou, xyxy_to_cxcywh
from openmind.data import read_records
from openmind.evaluate import grounding_scores, vqa_accuracy
from openmind.model import OpenMind
from openmind.train import run

hf_logging.disable_progress_bar(); hf_logging.set_verbosity_error()
DATA = Path('data/shapes')
MODE = '{grounding: {weight: 1.0, batch_size: 32, train: train/layout.jsonl, val: val/layout.jsonl}}'


VARIANTS = {'plain': (False, True), 'centred': (True, True), 'text first': (True, False)}   # (projector_center, image_first)


def train(center: bool, image_first: bool, steps: int, out: Path, extra: list[str] = ()) -> tuple[OpenMind, float, float]:
    t = time.time()
    args = f'{{projector_center: {str(center).lower()}, image_first: {str(image_first).lower()}}}'
    rep = run('tiny', [f'modes={MODE}', f'steps={steps}', f'out={out}', f'model_args={args}',
                       'eval_every=1000000', f'save_every={steps}', 'keep=1', *extra])
    return OpenMind.from_pretrained(rep['model']).eval(), rep.get('val/grounding', float('nan')), time.time() - t


def score(m: OpenMind, n_scenes: int = 100) -> dict:
    "Grounding of each distinct phrase of the first `n_scenes` validation scenes, scored as `openmind.evaluate` does, plus binding."
    rows = []   # (scene, objects in it, predicted boxes, the phrase's true boxes, all the scene's boxes, which of those are the phrase's)
    for i, r in enumerate(list(read_records(DATA / 'val/layout.jsonl'))[:n_scenes]):
        phrases = list(dict.fromkeys(r.phrases))
        for ph, pred in zip(phrases, m.ground([r.image] * len(phrases), phrases)):
            own = torch.tensor([p == ph for p in r.phrases])
            rows.append((i, len(r.objects), pred, r.boxes[own], r.boxes, own))
    res = grounding_scores([x[2] for x in rows], [x[3] for x in rows])
    multi = {}   # multi-object scene -> the distinct first boxes predicted for its phrases
    hits, nearer = [], []   # per row: (hit some object, that object is the phrase's); multi-object rows: (nearer, chance)
    for i, n, pred, _, boxes, own in rows:
        if not len(pred): hits.append((0, 0)); continue
        ious = box_iou(pred[:1], boxes)[0]
        hits.append((int(ious.max() >= .5), int(own[ious.argmax()])))
        if n > 1:
            multi.setdefault(i, set()).add(tuple(pred[0].tolist()))
            d = (xyxy_to_cxcywh(boxes)[:, :2] - xyxy_to_cxcywh(pred[:1])[:, :2]).norm(dim=1)
            nearer.append((int(own[d.argmin()] and (d == d.min()).sum() == 1), own.float().mean().item()))
    res['phrase_blind_scenes'] = sum(len(v) == 1 for v in multi.values()) / max(len(multi), 1)
    nt = torch.tensor(nearer, dtype=torch.float).reshape(-1, 2)
    res['nearer_phrase'], res['nearer_chance'] = nt[:, 0].mean().item(), nt[:, 1].mean().item()
    h = torch.tensor(hits, dtype=torch.float)
    for n in (1, 2, 3):
        sel = [k for k, x in enumerate(rows) if x[1] == n]; hit = h[sel][h[sel, 0] == 1]
        res[f'{n}obj'] = grounding_scores([rows[k][2] for k in sel], [rows[k][3] for k in sel]) | {
            'any_object': h[sel, 0].mean().item(), 'picked_phrase': hit[:, 1].mean().item() if len(hit) else float('nan')}
    return res


def vqa_by_objects(m: OpenMind) -> dict:
    "VQA accuracy of the colour-of-a-shape and shape-of-a-colour questions by objects in the scene, beside a random object's answer."
    scenes = {r.image: r for r in read_records(DATA / 'val/layout.jsonl')}
    qs = [q for q in read_records(DATA / 'val/vqa.jsonl') if q.question.startswith(('what colour', 'what shape'))]
    out = {}
    for q, a in zip(qs, m.answer([q.image for q in qs], [q.question for q in qs])):
        kind = 'colour' if q.question.startswith('what colour') else 'shape'
        words = [o['phrase'].split()[kind == 'shape'] for o in scenes[q.image].objects]
        c = out.setdefault((kind, len(words)), [0, 0.0, 0.0])
        c[0] += 1; c[1] += vqa_accuracy(a, q.answers); c[2] += words.count(q.answers[0]) / len(words)
    return {k: {'n': n, 'accuracy': acc / n, 'random_object': rnd / n} for k, (n, acc, rnd) in sorted(out.items())}


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
    ap.add_argument('--variants', nargs='+', choices=list(VARIANTS), default=list(VARIANTS), help='which variants to train')
    ap.add_argument('--set', action='append', default=[], metavar='KEY=VALUE', help='extra training override for every variant')
    ap.add_argument('--checkpoint', help='score this trained model (a run folder or a model folder) instead of training')
    a = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    machine = f'{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}'
    if a.checkpoint:
        path = Path(a.checkpoint) / 'final' if (Path(a.checkpoint) / 'final').is_dir() else Path(a.checkpoint)
        print(f'# {machine}; scoring {path}')
        m = OpenMind.from_pretrained(path).eval()
        table({str(path): score(m)})
        print('\n| question | 1 object | 2 objects | 3 objects |\n|---|---|---|---|')
        v = vqa_by_objects(m)
        for kind, q in (('colour', '"what colour is the {shape}?"'), ('shape', '"what shape is the {colour} object?"')):
            print(f'| {q} | ' + ' | '.join(f"{v[kind, n]['accuracy']:.2f} ({v[kind, n]['n']}) vs {v[kind, n]['random_object']:.2f}"
                                            for n in (1, 2, 3) if (kind, n) in v) + ' |')
        return
    print(f'# {machine}; grounding only, {a.steps} steps × 32' + (f"; overrides {' '.join(a.set)}" if a.set else ''))
    res = {}
    with tempfile.TemporaryDirectory() as d:
        for name in a.variants:
            m, val, secs = train(*VARIANTS[name], a.steps, Path(d) / name.replace(' ', '_'), a.set)
            res[name] = {'val_loss': val, 'train_s': round(secs), **score(m)}
            print(name, json.dumps(res[name]), flush=True)
    table(res)
    for new, old in (('centred', 'plain'), ('text first', 'centred')):
        if new in res and old in res: print(f"accuracy ratio {new} / {old}: {res[new]['accuracy'] / max(res[old]['accuracy'], 1e-9):.1f}×")


if __name__ == '__main__':
    main()
