"""The tiny generator's base alone: how often it draws the objects a caption asks for (no boxes), and how flat its
background is, for several samplers and guidance scales in the same run; and a longer base-training recipe to compare.

    python benchmarks/base.py eval tiny                                  # the shipped base, every sampler x guidance
    python benchmarks/base.py eval runs/base-v/ema2000 --settings ddim:3,dpm++:3,unipc:3:10   # sampler:guidance[:steps]
    python benchmarks/base.py train runs/base-v --steps 2000 --prediction v_prediction   # EMA + min-SNR-5 for that target
    python benchmarks/base.py figure runs/base-x0 ema3000 benchmarks/base_x0.png          # loss curve, true vs drawn images
    python benchmarks/base.py figure runs/base-c2,runs/base-c3 ema1000 benchmarks/base_stages.png --sampler dpm++:3:10 --start 3000   # stages end to end
    python benchmarks/base.py train runs/base-ctl --init tiny --prediction sample --lr 1e-3 --steps 1000 [--text-time]   # continue it
    python benchmarks/base.py train runs/base-te --init tiny --text-encoder --steps 1000 --prediction sample   # tune the text encoder too

`eval` draws 64 validation scenes (`--n`) from their captions (seeds 0-63, one batch per setting) and scores them with
`openmind.adapter.layout_fidelity`: right colour and shape per requested object wherever it is drawn (`correct_anywhere`:
a caption gives no position), the same at the scene's true boxes (`correct`, the reading before `correct_anywhere`), and
the background noise (mean absolute difference of background-classified pixels from the background colour; 0 on the
shapes world's own images). Samplers named `-trailing` start at the last training timestep (999, 899, ... at 10 steps).
`train` writes an `emaN/` folder (the EMA weights and the scheduler config with the prediction target) every 250 steps
(diffusers' `EMAModel`; the package's `min_snr_weight` and lr schedules); `eval` reads the target from that scheduler config.
`--init` starts from a trained UNet folder ('tiny': the packaged base); `--text-encoder` trains the generator's text encoder
with the UNet (embeddings then computed every step) and saves it as `emaN/text_encoder`, which `eval` and `figure` load.
"""
import argparse, json, textwrap, time
from pathlib import Path
import torch
from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler, UNet2DConditionModel, UniPCMultistepScheduler
from diffusers.training_utils import EMAModel
from openmind.adapter import (LayoutDataset, diffusion_target, layout_collate, layout_fidelity, load_generator, min_snr_weight, tiny_pipeline, _embed_prompts,
                              _lr_schedule, _MIN_SNR, _PALETTE, _palette_labels)
from openmind.shapes import ensure_shapes
from transformers import CLIPTextModel

# DDIM's own defaults clip x0 to [-1, 1] (`clip_sample=True`); a folder whose config names another scheduler has no
# `clip_sample` of its own, so plain 'ddim' sets it off, as the bases' DDIM configs had it, whatever the folder's class
SAMPLERS = {'ddim': lambda c: DDIMScheduler.from_config(c, clip_sample=False), 'ddim+clip': lambda c: DDIMScheduler.from_config(c, clip_sample=True),
            'dpm++': lambda c: DPMSolverMultistepScheduler.from_config(c),
            'dpm++thresh': lambda c: DPMSolverMultistepScheduler.from_config(c, thresholding=True, sample_max_value=1.0),
            'unipc': lambda c: UniPCMultistepScheduler.from_config(c),
            # the first step at the last training timestep (999, 899, … for 10 steps) instead of 900, 800, … (Lin et al. 2024)
            'ddim-trailing': lambda c: DDIMScheduler.from_config(c, clip_sample=False, timestep_spacing='trailing'),
            'dpm++-trailing': lambda c: DPMSolverMultistepScheduler.from_config(c, timestep_spacing='trailing'),
            'unipc-trailing': lambda c: UniPCMultistepScheduler.from_config(c, timestep_spacing='trailing')}


def background_noise(images: torch.Tensor) -> float:
    "Mean |pixel - background colour| over the pixels whose nearest palette colour is the background."
    lab = _palette_labels(images)
    return (images.permute(0, 2, 3, 1)[lab == 0] - _PALETTE[0]).abs().mean().item()


def _load(base: str):
    "The generator of a base folder, with the text encoder trained beside it when the folder has one."
    pipe = load_generator(base)   # a UNet folder's scheduler config says its prediction target
    if (Path(base) / 'text_encoder').is_dir(): pipe.text_encoder = CLIPTextModel.from_pretrained(Path(base) / 'text_encoder').eval()
    return pipe


def evaluate(base: str, settings: list[str], n: int = 64, data: str = 'data/shapes', steps: int = 25):
    pipe = _load(base)
    ds = LayoutDataset(Path(data) / 'val/layout.jsonl', 32); b = layout_collate([ds[i] for i in range(n)]); cfg = dict(pipe.scheduler.config)
    for s in settings:   # sampler:guidance[:steps]
        name, gs, *st = s.split(':'); pipe.scheduler = SAMPLERS[name](cfg); t = time.time(); k = int(st[0]) if st else steps
        imgs = pipe(b['caption'], num_inference_steps=k, guidance_scale=float(gs), output_type='pt',
                    generator=[torch.Generator().manual_seed(i) for i in range(n)]).images
        f = layout_fidelity(imgs, b['boxes'], b['phrases'])
        print(json.dumps({'base': base, 'sampler': name, 'guidance': float(gs), 'steps': k, 'correct': round(f['correct'], 3), 'correct_anywhere': round(f['correct_anywhere'], 3), 'objects': f['n'],
                          'background_noise': round(background_noise(imgs), 4), 'seconds': round(time.time() - t, 1)}), flush=True)


def train(out: Path, steps: int, prediction: str = 'epsilon', batch_size: int = 32, lr: float = 2e-3, snr_gamma: float = 5.0,
          ema_decay: float = 0.999, lr_schedule: str = 'constant', data: str = 'data/shapes', seed: int = 0,
          init: str|None = None, text_encoder: bool = False, text_time: bool = False):
    """Base from captions: `prediction` epsilon | v_prediction | sample (x0), min-SNR-γ weighting for that target (0: off), EMA
    of the weights, lr constant after 100 warm-up steps (or one-cycle over `steps`); images and caption embeddings computed once."""
    torch.manual_seed(seed)
    pipe = tiny_pipeline(seed=seed, prediction_type=prediction) if init is None else load_generator(init)
    if init is not None and pipe.scheduler.config.prediction_type != prediction: raise SystemExit(
        f"--init {init}: its UNet predicts {pipe.scheduler.config.prediction_type}, not --prediction {prediction}")
    if text_time: pipe.unet = with_text_time(pipe.unet)
    unet, te = pipe.unet.float().train().requires_grad_(True), pipe.text_encoder
    params = list(unet.parameters()) + (list(te.train().requires_grad_(True).parameters()) if text_encoder else [])
    ds = LayoutDataset(Path(data) / 'train/layout.jsonl', 32); items = [ds[i] for i in range(len(ds))]
    X = torch.stack([i['image'] for i in items]); caps = [i['caption'] for i in items]
    tok = lambda c: pipe.tokenizer(list(c), padding='max_length', max_length=pipe.tokenizer.model_max_length, truncation=True, return_tensors='pt').input_ids
    if text_encoder: T, tnull = tok(caps), tok([''])
    else: E = torch.cat([_embed_prompts(pipe, caps[k:k + 250]) for k in range(0, len(items), 250)]); null = _embed_prompts(pipe, [''])
    g = torch.Generator().manual_seed(seed)
    ns = DDPMScheduler.from_config(pipe.scheduler.config)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    sch = _lr_schedule(opt, lr_schedule, steps)
    ema = EMAModel(params, decay=ema_decay, use_ema_warmup=True, power=2 / 3)
    losses, t0 = [], time.time(); out.mkdir(parents=True, exist_ok=True)
    for step in range(steps):
        idx = torch.randint(0, len(X), (batch_size,), generator=g); x0 = X[idx]
        drop = torch.rand(batch_size, generator=g) < 0.1   # 10 % null captions
        emb = te(torch.where(drop[:, None], tnull, T[idx]))[0] if text_encoder else torch.where(drop[:, None, None], null, E[idx])
        noise, t = torch.randn(x0.shape, generator=g), torch.randint(0, ns.config.num_train_timesteps, (batch_size,), generator=g)
        err = (unet(ns.add_noise(x0, noise, t), t, encoder_hidden_states=emb).sample - diffusion_target(ns, x0, noise, t)).pow(2).flatten(1).mean(1)
        if snr_gamma: err = err * min_snr_weight(ns, t, snr_gamma)
        loss = err.mean()
        opt.zero_grad(set_to_none=True); loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0); opt.step(); sch.step(); ema.step(params); losses.append(loss.item())
        if (step + 1) % 250 == 0 or step + 1 == steps:
            print(f"step {step + 1} loss {sum(losses[-250:]) / len(losses[-250:]):.4f} {time.time() - t0:.0f} s", flush=True)
            ema.store(params); ema.copy_to(params); d = out / f'ema{step + 1}'
            unet.save_pretrained(d); pipe.scheduler.save_pretrained(d)
            if text_encoder: te.save_pretrained(d / 'text_encoder')
            ema.restore(params)
            (out / 'losses.json').write_text(json.dumps(losses))


def with_text_time(unet: UNet2DConditionModel, heads: int = 4) -> UNet2DConditionModel:
    """The same UNet plus DeepFloyd IF's pooled-caption time embedding (diffusers' `addition_embed_type='text'`: attention
    pooling of the caption's hidden states, added to the timestep embedding of every ResNet block), zero at the start
    (its last LayerNorm's weight and bias are 0), so a trained base keeps its outputs until the new path learns."""
    if unet.config.addition_embed_type == 'text': return unet
    new = UNet2DConditionModel.from_config({**unet.config, 'addition_embed_type': 'text', 'addition_embed_type_num_heads': heads})
    missing, unexpected = new.load_state_dict(unet.state_dict(), strict=False)
    assert not unexpected and all(k.startswith('add_embedding.') for k in missing), (missing, unexpected)
    torch.nn.init.zeros_(new.add_embedding.norm2.weight); torch.nn.init.zeros_(new.add_embedding.norm2.bias)
    return new


def figure(run: str, ema: str, out: Path, n: int = 12, data: str = 'data/shapes', sampler: str|None = None, start: int = 0):
    """The run's loss per step (mean of 50) beside `n` validation captions: the true images on top, the base's drawings below.
    `run` may name several runs, comma-separated, each continuing the one before (`--init`): their losses are drawn end to
    end, with a dotted line where each stage starts, and the drawings come from the last one's `ema` folder, sampled as
    `sampler` says (sampler:guidance[:steps], as `eval`'s settings) or, by default, with the folder's own scheduler at 25
    steps, guidance 3. `start`: the steps the first run's `--init` had already trained, to number the steps from."""
    import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
    runs = [Path(r) for r in str(run).split(',')]; run = runs[-1]
    pipe = _load(str(run / ema)); gs, steps = 3.0, 25
    if sampler:
        name, gs, *st = sampler.split(':'); gs = float(gs); steps = int(st[0]) if st else steps
        pipe.scheduler = SAMPLERS[name](dict(pipe.scheduler.config))
    ds = LayoutDataset(Path(data) / 'val/layout.jsonl', 32); b = layout_collate([ds[i] for i in range(n)])
    imgs = pipe(b['caption'], num_inference_steps=steps, guidance_scale=gs, output_type='pt',
                generator=[torch.Generator().manual_seed(i) for i in range(n)]).images
    stages = [json.loads((r / 'losses.json').read_text()) for r in runs]
    losses = torch.tensor(sum(stages, [])); k = len(losses) // 50 * 50
    fig = plt.figure(figsize=(14, 3.2)); ax = fig.add_axes([0.04, 0.15, 0.2, 0.75])
    ax.plot(torch.arange(k).view(-1, 50)[:, -1] + 1 + start, losses[:k].view(-1, 50).mean(1)); ax.set_yscale('log')
    for s0 in torch.tensor([len(l) for l in stages[:-1]]).cumsum(0).tolist(): ax.axvline(s0 + start, ls=':', c='grey')
    ax.set_xlabel('step'); ax.set_title('weighted loss (mean of 50 steps)', fontsize=9)
    for r, row in enumerate(((b['image'] + 1) / 2, imgs)):
        for j in range(n):
            a = fig.add_axes([0.27 + j * 0.06, 0.52 - r * 0.45, 0.058, 0.4]); a.imshow(row[j].permute(1, 2, 0).clamp(0, 1).numpy()); a.set_axis_off()
            if r == 0: a.set_title('\n'.join(textwrap.wrap(b['caption'][j], 16)), fontsize=4.5)
    fig.savefig(out, dpi=130, bbox_inches='tight'); print(f"wrote {out}")


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0]); sub = p.add_subparsers(dest='cmd', required=True)
    e = sub.add_parser('eval'); e.add_argument('base'); e.add_argument('--n', type=int, default=64)
    e.add_argument('--settings', default=','.join(f'{s}:{g}' for s in SAMPLERS for g in (1, 3, 5)))
    t = sub.add_parser('train'); t.add_argument('out', type=Path); t.add_argument('--steps', type=int, default=2000)
    t.add_argument('--snr-gamma', type=float, default=5.0); t.add_argument('--batch-size', type=int, default=32)
    t.add_argument('--prediction', default='epsilon', choices=tuple(_MIN_SNR))
    t.add_argument('--lr-schedule', default='constant', choices=('constant', 'onecycle'))
    t.add_argument('--init', help="a trained UNet folder to start from ('tiny': the packaged base)")
    t.add_argument('--text-encoder', action='store_true', help="train the generator's text encoder with the UNet")
    t.add_argument('--lr', type=float, default=2e-3)
    t.add_argument('--text-time', action='store_true', help="add DeepFloyd IF's pooled-caption time embedding to the UNet (zero at the start)")
    f = sub.add_parser('figure'); f.add_argument('run', help='a run folder, or several comma-separated (each continuing the one before)'); f.add_argument('ema'); f.add_argument('out', type=Path)
    f.add_argument('--sampler', help="sampler:guidance[:steps] for the drawings, e.g. dpm++:3:10 (default: the folder's scheduler, 25 steps, guidance 3)")
    f.add_argument('--start', type=int, default=0, help="the steps the first run's --init had trained (the x axis starts there)")
    a = p.parse_args(); ensure_shapes('data/shapes')
    if a.cmd == 'eval': evaluate(a.base, a.settings.split(','), a.n)
    elif a.cmd == 'figure': figure(a.run, a.ema, a.out, sampler=a.sampler, start=a.start)
    else: train(a.out, a.steps, a.prediction, a.batch_size, a.lr, snr_gamma=a.snr_gamma, lr_schedule=a.lr_schedule,
                init=a.init, text_encoder=a.text_encoder, text_time=a.text_time)
