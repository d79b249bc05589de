"""Composition from a prompt alone, LMD's protocol on the shapes world: does the drawn picture satisfy the prompt?

Prompts are the shapes world's own captions of new random scenes (seed 7), balanced over one, two and three objects, the
captions of two and three objects held out (none occurs in the training manifest; the world's 15 lone-object captions all
do): attribution ("a red circle"), spatial relations ("a green square to the left of a red square") and
order with count ("a red square, a yellow square and a blue circle", named left to right). A picture satisfies its prompt
when the shapes-world detector (`openmind.adapter.detect`, anywhere in the picture) finds every named object in its colour
and shape, and the found boxes, captioned by the world's rules (`openmind.evaluate.layout_caption`), give the prompt back.
Rows, in one run, prompt i drawn from seed i in every row:

    text, no layout          the generator on its own text encoder, no boxes
    GILL, no layout          the model's [IMG] tokens through the mapper, no boxes
    GILL, planned layout     the same, each object in the box of the model's own plan (`OpenMind.draw(layout='plan')`)
    GILL, true layout        the same with the scene's true boxes (the ceiling)
    stage 1                  the planned layouts themselves, scored by the same rule on their boxes (no picture)

    python benchmarks/compose.py --checkpoint runs/tiny            # 400 prompts
    python benchmarks/compose.py --checkpoint runs/tiny --n 96     # quicker
"""
import argparse, json, os, time
from pathlib import Path
import numpy as np
import torch
os.environ.setdefault('TQDM_DISABLE', '1')
from openmind import shapes
from openmind.adapter import detect
from openmind.data import GroundingRecord
from openmind.evaluate import resolve_checkpoint, layout_caption, planning_scores, _generator
from openmind.model import OpenMind


def prompts(n, train_manifest, seed=7):
    "n held-out scenes, a third each with 1, 2 and 3 objects: (caption, phrases, normalized boxes)."
    seen = {json.loads(l)['caption'] for l in Path(train_manifest).read_text().splitlines() if l.strip()}
    rng, want, out = np.random.default_rng(seed), {k: n // 3 + (k <= n % 3) for k in (1, 2, 3)}, []
    while any(want.values()):
        objs = shapes.sample_scene(rng, 64)
        cap = shapes.caption(objs)
        if want[len(objs)] and (cap not in seen or len(objs) == 1):   # every lone-object caption occurs in training
            out.append((cap, [o.phrase() for o in objs], torch.tensor([[v / 64 for v in o.box] for o in objs])))
            want[len(objs)] -= 1
    return out


def record(caption, phrases, boxes) -> GroundingRecord:
    "A prompt as the record `planning_scores` compares plans with."
    return GroundingRecord('', caption, [{'phrase': p, 'box': b} for p, b in zip(phrases, boxes.tolist())], 64, 64)


def satisfied(image, caption, phrases) -> bool:
    "Every named object drawn in its colour and shape, and the drawn boxes captioned by the world's rules give the caption."
    found = [detect(image, p, [0, 0, 1, 1]) for p in phrases]
    if not all(d['found'] and d['shape'] == p.split()[-1] for d, p in zip(found, phrases)): return False
    return layout_caption(phrases, torch.stack([d['box'] for d in found])) == caption


def main():
    ap = argparse.ArgumentParser(); ap.add_argument('--checkpoint', default='runs/tiny'); ap.add_argument('--data', default='data/shapes')
    ap.add_argument('--n', type=int, default=400); ap.add_argument('--steps', type=int, default=10); ap.add_argument('--guidance', type=float, default=3.0)
    ap.add_argument('--batch-size', type=int, default=16)
    a = ap.parse_args()
    ck = resolve_checkpoint(a.checkpoint); model = OpenMind.from_pretrained(ck['model']).eval(); pipe = _generator(ck, 'cpu')
    pipe.set_progress_bar_config(disable=True)
    ps = prompts(a.n, Path(a.data) / 'train/layout.jsonl')
    caps = [c for c, _, _ in ps]
    t0 = time.perf_counter(); plans = [p for k in range(0, len(caps), 64) for p in model.plan_layout(caps[k:k + 64])]; t_plan = time.perf_counter() - t0
    recs = [record(c, ph, bx) for c, ph, bx in ps]
    rows = {'stage 1 (planned boxes, no picture)': [s == c for s, c in zip([layout_caption(p['phrases'], p['boxes']) for p in plans], caps)]}
    settings = [('text, no layout', 'text', None), ('GILL, no layout', 'gill', None), ('GILL, planned layout', 'gill', 'plan'),
                ('GILL, true layout', 'gill', 'true')]
    times = {}
    for name, cond, lay in settings:
        ok, t0 = [], time.perf_counter()
        for k in range(0, len(ps), a.batch_size):
            chunk = ps[k:k + a.batch_size]
            layout = ([{'phrases': ph, 'boxes': bx} for _, ph, bx in chunk] if lay == 'true' else
                      plans[k:k + a.batch_size] if lay == 'plan' else None)
            imgs = model.draw(pipe, [c for c, _, _ in chunk], layout, cond, seed=k, num_inference_steps=a.steps, guidance_scale=a.guidance)['images']
            ok += [satisfied(im, c, ph) for im, (c, ph, _) in zip(imgs, chunk)]
        rows[name], times[name] = ok, time.perf_counter() - t0
    n_obj = [len(ph) for _, ph, _ in ps]
    kinds = {1: 'attribution (1 object)', 2: 'spatial (2 objects)', 3: 'order and count (3 objects)'}
    print(f"\n### Composition: {len(ps)} held-out prompts, {a.steps} DDIM steps, guidance {a.guidance}, checkpoint {a.checkpoint}\n")
    print('| row | all | ' + ' | '.join(kinds.values()) + ' |'); print('|---|---|' + '---|' * len(kinds))
    for name, ok in rows.items():
        by = [np.mean([o for o, m in zip(ok, n_obj) if m == k]) for k in kinds]
        print(f"| {name} | {np.mean(ok):.3f} | " + ' | '.join(f'{v:.3f}' for v in by) + ' |')
    st = planning_scores(plans, recs)
    print(f"\nplanning_scores of the plans: stage1 {st['stage1']:.3f}, right objects {st['objects']:.3f}; planning took {t_plan:.1f} s; drawing "
          + ', '.join(f'{n} {t:.0f} s' for n, t in times.items()))


if __name__ == '__main__':
    main()
