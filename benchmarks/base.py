"""The tiny generator's base alone: how often it draws the objects a caption asks for (no boxes), and how flat its
background is, for several samplers and guidance scales in the same run; and a longer base-training recipe to compare.

    python benchmarks/base.py eval tiny                                  # the shipped base, every sampler x guidance
    python benchmarks/base.py eval runs/base-v/ema2000 --settings ddim:3,dpm++:3
    python benchmarks/base.py train runs/base-v --steps 2000 --prediction v_prediction   # EMA + min-SNR-5 for that target

`eval` draws 64 validation scenes from their captions (seeds 0-63, one batch per setting) and scores them with
`openmind.adapter.detect`: right colour and shape per requested object, and the background noise (mean absolute
difference of background-classified pixels from the background colour; 0 on the shapes world's own images).
`train` writes an `emaN/` folder (the EMA weights and the scheduler config with the prediction target) every 250 steps
(diffusers' `EMAModel` and `compute_snr`); `eval` reads the target from that scheduler config.
"""
import argparse, json, time
from pathlib import Path
import torch
from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler, UNet2DConditionModel
from diffusers.training_utils import EMAModel, compute_snr
from openmind.adapter import (LayoutDataset, layout_collate, layout_fidelity, load_generator, tiny_pipeline, _embed_prompts,
                              _PALETTE)
from openmind.shapes import ensure_shapes

SAMPLERS = {'ddim': lambda c: DDIMScheduler.from_config(c), 'ddim+clip': lambda c: DDIMScheduler.from_config(c, clip_sample=True),
            'dpm++': lambda c: DPMSolverMultistepScheduler.from_config(c),
            'dpm++thresh': lambda c: DPMSolverMultistepScheduler.from_config(c, thresholding=True, sample_max_value=1.0)}


def background_noise(images: torch.Tensor) -> float:
    "Mean |pixel - background colour| over the pixels whose nearest palette colour is the background."
    lab = ((images.permute(0, 2, 3, 1)[..., None, :] - _PALETTE).pow(2).sum(-1)).argmin(-1)
    return (images.permute(0, 2, 3, 1)[lab == 0] - _PALETTE[0]).abs().mean().item()


def evaluate(base: str, settings: list[str], n: int = 64, data: str = 'data/shapes', steps: int = 25):
    pipe = load_generator(base) if base == 'tiny' else tiny_pipeline(UNet2DConditionModel.from_pretrained(base))
    if (Path(base) / 'scheduler_config.json').is_file():   # the prediction target the base was trained for (epsilon, v_prediction, sample)
        pipe.scheduler = DDIMScheduler.from_pretrained(base)
    ds = LayoutDataset(Path(data) / 'val/layout.jsonl', 32); b = layout_collate([ds[i] for i in range(n)]); cfg = dict(pipe.scheduler.config)
    for s in settings:
        name, gs = s.split(':'); pipe.scheduler = SAMPLERS[name](cfg); t = time.time()
        imgs = pipe(b['caption'], num_inference_steps=steps, guidance_scale=float(gs), output_type='pt',
                    generator=[torch.Generator().manual_seed(i) for i in range(n)]).images
        f = layout_fidelity(imgs, b['boxes'], b['phrases'])
        print(json.dumps({'base': base, 'sampler': name, 'guidance': float(gs), 'correct': round(f['correct'], 3), 'objects': f['n'],
                          'background_noise': round(background_noise(imgs), 4), 'seconds': round(time.time() - t, 1)}), flush=True)


# min-SNR-γ weighting (Hang et al. 2023) per prediction target, as diffusers' training scripts write it: min(snr, γ) / snr for ε,
# / (snr + 1) for v; for x0 the loss already carries snr, so min(snr, γ). diffusers has `compute_snr` but no helper for this.
MIN_SNR = {'epsilon': lambda m, snr: m / snr, 'v_prediction': lambda m, snr: m / (snr + 1), 'sample': lambda m, snr: m}


def train(out: Path, steps: int, prediction: str = 'epsilon', batch_size: int = 32, lr: float = 2e-3, snr_gamma: float = 5.0,
          ema_decay: float = 0.999, lr_schedule: str = 'constant', data: str = 'data/shapes', seed: int = 0):
    """Base from captions: `prediction` epsilon | v_prediction | sample (x0), min-SNR-γ weighting for that target (0: off), EMA
    of the weights, lr constant after 100 warm-up steps (or one-cycle over `steps`); images and caption embeddings computed once."""
    torch.manual_seed(seed); pipe = tiny_pipeline(seed=seed); unet = pipe.unet.train().requires_grad_(True)
    pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config, prediction_type=prediction)
    ds = LayoutDataset(Path(data) / 'train/layout.jsonl', 32); items = [ds[i] for i in range(len(ds))]
    X = torch.stack([i['image'] for i in items])
    E = torch.cat([_embed_prompts(pipe, [i['caption'] for i in items[k:k + 250]]) for k in range(0, len(items), 250)])
    null, g = _embed_prompts(pipe, ['']), torch.Generator().manual_seed(seed)
    ns = DDPMScheduler.from_config(pipe.scheduler.config)
    opt = torch.optim.AdamW(unet.parameters(), lr=lr, weight_decay=0.0)
    sch = (torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps, pct_start=0.05) if lr_schedule == 'onecycle'
           else torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 100)))
    ema = EMAModel(unet.parameters(), decay=ema_decay, use_ema_warmup=True, power=2 / 3)
    losses, t0 = [], time.time(); out.mkdir(parents=True, exist_ok=True)
    for step in range(steps):
        idx = torch.randint(0, len(X), (batch_size,), generator=g); x0 = X[idx]
        emb = torch.where((torch.rand(batch_size, generator=g) < 0.1)[:, None, None], null, E[idx])   # 10 % null captions
        noise, t = torch.randn(x0.shape, generator=g), torch.randint(0, ns.config.num_train_timesteps, (batch_size,), generator=g)
        target = noise if prediction == 'epsilon' else ns.get_velocity(x0, noise, t) if prediction == 'v_prediction' else x0
        err = (unet(ns.add_noise(x0, noise, t), t, encoder_hidden_states=emb).sample - target).pow(2).flatten(1).mean(1)
        if snr_gamma: snr = compute_snr(ns, t); err = err * MIN_SNR[prediction](torch.clamp(snr, max=snr_gamma), snr)
        loss = err.mean()
        opt.zero_grad(set_to_none=True); loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0); opt.step(); sch.step(); ema.step(unet.parameters()); losses.append(loss.item())
        if (step + 1) % 250 == 0 or step + 1 == steps:
            print(f"step {step + 1} loss {sum(losses[-250:]) / len(losses[-250:]):.4f} {time.time() - t0:.0f} s", flush=True)
            ema.store(unet.parameters()); ema.copy_to(unet.parameters()); d = out / f'ema{step + 1}'
            unet.save_pretrained(d); pipe.scheduler.save_pretrained(d); ema.restore(unet.parameters())
            (out / 'losses.json').write_text(json.dumps(losses))


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0]); sub = p.add_subparsers(dest='cmd', required=True)
    e = sub.add_parser('eval'); e.add_argument('base'); e.add_argument('--n', type=int, default=64)
    e.add_argument('--settings', default=','.join(f'{s}:{g}' for s in SAMPLERS for g in (1, 3, 5)))
    t = sub.add_parser('train'); t.add_argument('out', type=Path); t.add_argument('--steps', type=int, default=2000)
    t.add_argument('--snr-gamma', type=float, default=5.0); t.add_argument('--batch-size', type=int, default=32)
    t.add_argument('--prediction', default='epsilon', choices=tuple(MIN_SNR))
    t.add_argument('--lr-schedule', default='constant', choices=('constant', 'onecycle'))
    a = p.parse_args(); ensure_shapes('data/shapes')
    if a.cmd == 'eval': evaluate(a.base, a.settings.split(','), a.n)
    else: train(a.out, a.steps, a.prediction, a.batch_size, snr_gamma=a.snr_gamma, lr_schedule=a.lr_schedule)
