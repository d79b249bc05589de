"""Composition from a prompt alone, LMD's protocol on the shapes world: does the drawn picture satisfy the prompt?

Prompts are the shapes world's own captions of new random scenes (seed 7), balanced over one, two and three objects, the
captions of two and three objects held out (none occurs in the training manifest; the world's 15 lone-object captions all
do): attribution ("a red circle"), spatial relations ("a green square to the left of a red square") and
order with count ("a red square, a yellow square and a blue circle", named left to right). A picture satisfies its prompt
when the shapes-world detector (`openmind.adapter.detect_scene`: each colour's drawn objects shared out among that
colour's phrases by shape, anywhere in the picture) finds every named object in its colour and shape, and the found
boxes, captioned by the world's rules (`openmind.evaluate.layout_caption`), give the prompt back.
Rows, in one run, prompt i drawn from seed i in every row:

    text, no layout          the generator on its own text encoder, no boxes
    GILL, no layout          the model's [IMG] tokens through the mapper, no boxes
    GILL, planned layout     the same, each object in the box of the model's own plan (`OpenMind.draw(layout='plan')`)
    GILL, true layout        the same with the scene's true boxes (the ceiling)
    conversation             "Draw <prompt>." through generate_for_images_and_texts: the reply, its planned layout, the picture
    stage 1                  the planned layouts themselves, scored by the same rule on their boxes (no picture)

Then the conversation's retrieve-or-generate decision (`openmind.chat`): picture requests ("Show me ...", "Draw ...",
"Can I see ...?") of held-out prompts, half naming a scene of the bank (the training images; captions not among those the
head was fitted on), half a new combination (captions of new scenes of seed 5, none in training nor among the head's fitting cases), through
`generate_for_images_and_texts` with the run's bank and decision head: how often a picture is shown, the reply names the
prompt, and the decision is right (bank → ret, new → gen).

    python benchmarks/compose.py --checkpoint runs/tiny            # 400 prompts
    python benchmarks/compose.py --checkpoint runs/tiny --n 96     # quicker
    python benchmarks/compose.py --checkpoint runs/tiny --decision-only   # the decision rows alone (about a minute)
    python benchmarks/compose.py --checkpoint runs/tiny --rows 'GILL, planned;true' --fraction 0.6   # GLIGEN's scheduled sampling
"""
import argparse, inspect, json, os, time
from pathlib import Path
import numpy as np
import torch
os.environ.setdefault('TQDM_DISABLE', '1')
from openmind import shapes
from openmind.adapter import detect_scene
from openmind.data import GroundingRecord
from openmind.evaluate import resolve_checkpoint, layout_caption, planning_scores, _generator
from openmind.model import OpenMind, DIALOGUE_ASKS
from openmind.chat import ImageBank, decision_cases, load_decision, new_captions


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
    found = detect_scene(image, phrases)   # one drawn object per phrase: two phrases of one colour never share one
    if not all(d['correct'] for d in found): return False
    return layout_caption(phrases, torch.stack([d['box'] for d in found])) == caption


def decisions(model, bank, head, n=400, seed=5, batch_size=32):
    "Decision accuracy on n balanced held-out picture requests: n/2 bank scenes (→ ret), n/2 new combinations (→ gen)."
    fit_known, fit_new = decision_cases(bank)
    rng, pool = np.random.default_rng(seed), sorted(set(bank.captions) - set(fit_known))
    known = [pool[i] for i in rng.permutation(len(pool))[:n // 2]]
    new = new_captions(bank.captions, n // 2, seed=seed, exclude=fit_new)   # new combinations the head was not fitted on
    cases = [(c, 'ret') for c in known] + [(c, 'gen') for c in new]
    asks = [DIALOGUE_ASKS[k % len(DIALOGUE_ASKS)].format(caption=c) for k, (c, _) in enumerate(cases)]
    outs = [o for k in range(0, len(asks), batch_size)
            for o in model.generate_for_images_and_texts([[q] for q in asks[k:k + batch_size]], bank=bank, decision_head=head)]
    shown = [len(o) > 1 for o in outs]; named = [o[0] == c for o, (c, _) in zip(outs, cases)]
    right = [len(o) > 1 and o[1]['decision'] == want for o, (_, want) in zip(outs, cases)]
    multi = [k for k, (c, w) in enumerate(cases) if w == 'ret' and c.split().count('a') >= 2]
    found = [o[1]['ret'][0]['caption'] == c for o, (c, w) in zip(outs, cases) if w == 'ret' and len(o) > 1 and o[1]['decision'] == 'ret']
    return {'n': len(cases), 'bank': len(known), 'new': len(new), 'picture shown': np.mean(shown), 'reply names the prompt': np.mean(named),
            'decision accuracy': np.mean(right), 'bank prompts (→ ret)': np.mean(right[:len(known)]), 'new prompts (→ gen)': np.mean(right[len(known):]),
            'bank prompts of 2-3 objects': np.mean([right[k] for k in multi]) if multi else float('nan'), 'n bank 2-3 objects': len(multi),
            'retrieved scene has the prompt\'s caption': np.mean(found) if found else float('nan')}


def main():
    ap = argparse.ArgumentParser(); ap.add_argument('--checkpoint', default='runs/tiny'); ap.add_argument('--data', default='data/shapes')
    ap.add_argument('--n', type=int, default=400); ap.add_argument('--steps', type=int, default=10); ap.add_argument('--guidance', type=float, default=3.0)
    ap.add_argument('--batch-size', type=int, default=16); ap.add_argument('--decision-only', action='store_true')
    ap.add_argument('--fraction', type=float, default=None, help="grounding fraction of the layout rows (GLIGEN's scheduled sampling; default: OpenMind.draw's)")
    ap.add_argument('--rows', default='', help="only the drawn rows whose name contains one of these ;-separated strings ('GILL, planned;true')")
    a = ap.parse_args()
    ck = resolve_checkpoint(a.checkpoint); model = OpenMind.from_pretrained(ck['model']).eval(); pipe = _generator(ck, 'cpu')
    pipe.set_progress_bar_config(disable=True)
    ps = prompts(a.n, Path(a.data) / 'train/layout.jsonl')
    t0 = time.perf_counter(); bank = ImageBank.from_manifest(model, Path(a.data) / 'train/layout.jsonl')
    dec = decisions(model, bank, load_decision(model, ck['model'], bank))
    print(f"\n### Retrieve or generate: {dec['n']} held-out picture requests ({dec['bank']} bank scenes, {dec['new']} new), checkpoint {a.checkpoint}, "
          f"{time.perf_counter() - t0:.0f} s\n\n| measure | value |\n|---|---|")
    for k, v in dec.items():
        if k not in ('n', 'bank', 'new', 'n bank 2-3 objects'): print(f"| {k} | {v:.3f} |")
    print(f"\n({dec['n bank 2-3 objects']} of the bank prompts name two or three objects.)")
    if a.decision_only: return
    caps = [c for c, _, _ in ps]
    t0 = time.perf_counter(); plans = [p for k in range(0, len(caps), 64) for p in model.plan_layout(caps[k:k + 64])]; t_plan = time.perf_counter() - t0
    recs = [record(c, ph, bx) for c, ph, bx in ps]
    rows = {'stage 1 (planned boxes, no picture)': [s == c for s, c in zip([layout_caption(p['phrases'], p['boxes']) for p in plans], caps)]}
    settings = [('text, no layout', 'text', None), ('GILL, no layout', 'gill', None), ('GILL, planned layout', 'gill', 'plan'),
                ('GILL, true layout', 'gill', 'true'), ('conversation ("Draw ..."), planned layout', 'chat', 'plan')]
    if a.rows: settings = [st for st in settings if any(w in st[0] for w in a.rows.split(';'))]
    times, fr = {}, ({} if a.fraction is None else dict(grounding_fraction=a.fraction))
    for name, cond, lay in settings:
        ok, t0 = [], time.perf_counter()
        for k in range(0, len(ps), a.batch_size):
            chunk = ps[k:k + a.batch_size]
            layout = ([{'phrases': ph, 'boxes': bx} for _, ph, bx in chunk] if lay == 'true' else
                      plans[k:k + a.batch_size] if lay == 'plan' else None)
            if cond == 'chat':   # the whole conversation: "Draw ..." → the reply → its planned layout → a picture (drawing forced)
                outs = model.generate_for_images_and_texts([[f'Draw {c}.'] for c, _, _ in chunk], decision='gen', force_image=True, pipe=pipe, layout='plan',
                                                           num_inference_steps=a.steps, **fr, guidance_scale=a.guidance,
                                                           generator=[torch.Generator().manual_seed(k + i) for i in range(len(chunk))])
                imgs = [o[1]['gen']['image'] for o in outs]
            else: imgs = model.draw(pipe, [c for c, _, _ in chunk], layout, cond, seed=k, num_inference_steps=a.steps, guidance_scale=a.guidance, **fr)['images']
            ok += [satisfied(im, c, ph) for im, (c, ph, _) in zip(imgs, chunk)]
        rows[name], times[name] = ok, time.perf_counter() - t0
    n_obj = [len(ph) for _, ph, _ in ps]
    frac_txt = f"{inspect.signature(OpenMind.draw).parameters['grounding_fraction'].default:g} (OpenMind.draw's default)" if a.fraction is None else f'{a.fraction:g}'
    kinds = {1: 'attribution (1 object)', 2: 'spatial (2 objects)', 3: 'order and count (3 objects)'}
    print(f"\n### Composition: {len(ps)} held-out prompts, {a.steps} steps of {type(pipe.scheduler).__name__}, guidance {a.guidance}, "
          f"grounding fraction {frac_txt}, checkpoint {a.checkpoint}\n")
    print('| row | all | ' + ' | '.join(kinds.values()) + ' |'); print('|---|---|' + '---|' * len(kinds))
    for name, ok in rows.items():
        by = [np.mean([o for o, m in zip(ok, n_obj) if m == k]) for k in kinds]
        print(f"| {name} | {np.mean(ok):.3f} | " + ' | '.join(f'{v:.3f}' for v in by) + ' |')
    st = planning_scores(plans, recs)
    print(f"\nplanning_scores of the plans: stage1 {st['stage1']:.3f}, right objects {st['objects']:.3f}; planning took {t_plan:.1f} s; drawing "
          + ', '.join(f'{n} {t:.0f} s' for n, t in times.items()))


if __name__ == '__main__':
    main()
