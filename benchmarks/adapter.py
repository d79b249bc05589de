"""Spatial adapter: its size and its cost per UNet step against the bare UNet in the same run, and (with a trained run
folder) layout fidelity with boxes vs boxes withheld.

    tiny    the tiny preset's pixel-space UNet (32 x 32, batch 32)           CPU
    sd15    Stable Diffusion 1.5's UNet config, random weights (64 x 64 latent, batch 1): forward+backward step time and
            peak training memory with gradient checkpointing, adapter vs bare                 GPU only

    python benchmarks/adapter.py                       # speed (tiny on CPU; SD 1.5 too when CUDA is available)
    python benchmarks/adapter.py --run runs/layout     # + fidelity of a run trained by `python -m openmind.adapter`
    python benchmarks/adapter.py --run runs/layout --no-speed --scenes 64 --steps 10 --fractions 1,0.6,0.3   # GLIGEN's β
    python benchmarks/adapter.py --run runs/tiny/final --no-speed --steps 10 --fractions 1,0.6   # the default run's adapter
"""
import argparse, json, statistics, time
from pathlib import Path
import torch
import torch.nn.functional as F
from diffusers import UNet2DConditionModel
from openmind.adapter import (TINY_UNET, SD15_UNET, add_spatial_adapter, remove_spatial_adapter, set_grounding,
                              load_adapter, load_generator, evaluate_layout)


def step_time(unet, x, t, text, boxes, embeds, train, n, grounded):
    "Median seconds of one UNet call (forward, or forward + backward) with or without grounding."
    times = []
    for k in range(n + 2):
        if x.is_cuda: torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.set_grad_enabled(train):
            if grounded: set_grounding(unet, boxes, embeds, x.shape[-2:])   # tokens are part of each step, as in training
            out = unet(x, t, text).sample
            if train: F.mse_loss(out.float(), torch.zeros_like(out, dtype=torch.float32)).backward()
        if x.is_cuda: torch.cuda.synchronize()
        if k >= 2: times.append(time.perf_counter() - t0)
    if grounded: unet.spatial_adapter.grounding = None
    return statistics.median(times)


def speed(name, cfg, batch, device, dtype, n):
    torch.manual_seed(0)
    with torch.device(device): unet = UNet2DConditionModel(**cfg)
    if dtype != torch.float32: unet = unet.to(dtype)
    s, c = cfg['sample_size'], cfg['cross_attention_dim']
    x, t = torch.randn(batch, cfg['in_channels'], s, s, device=device, dtype=dtype), torch.full((batch,), 500, device=device)
    text = torch.randn(batch, 77, c, device=device, dtype=dtype)
    boxes = [torch.tensor([[0.1, 0.1, 0.5, 0.5], [0.5, 0.4, 0.9, 0.9], [0.2, 0.6, 0.4, 0.95]])] * batch
    embeds = [torch.randn(3, c)] * batch
    rows = []
    for train in (False, True):   # training = the adapter stage: frozen UNet, gradients flow to the input (bare) or the adapter
        if train and device == 'cuda': unet.enable_gradient_checkpointing(); unet.train()
        unet.requires_grad_(False); x.requires_grad_(train)
        if device == 'cuda': torch.cuda.reset_peak_memory_stats()
        bare = step_time(unet, x, t, text, boxes, embeds, train, n, False)
        bare_peak = torch.cuda.max_memory_allocated() / 2**30 if device == 'cuda' else None
        a = add_spatial_adapter(unet); a.to(device)
        if train: a.requires_grad_(True)
        if device == 'cuda': torch.cuda.reset_peak_memory_stats()
        ad = step_time(unet, x, t, text, boxes, embeds, train, n, True)
        peak = torch.cuda.max_memory_allocated() / 2**30 if device == 'cuda' else None
        remove_spatial_adapter(unet)
        rows.append((name, 'train step' if train else 'forward', batch, bare, ad, bare_peak, peak, sum(p.numel() for p in a.parameters())))
    return rows


if __name__ == '__main__':
    p = argparse.ArgumentParser(); p.add_argument('--run', default=None); p.add_argument('--n', type=int, default=10)
    p.add_argument('--no-speed', action='store_true', help='only the fidelity of --run')
    p.add_argument('--scenes', type=int, default=200); p.add_argument('--steps', type=int, default=25, help='sampler steps')
    p.add_argument('--fractions', default='1.0', help="grounding fractions (GLIGEN's scheduled sampling β), comma-separated")
    a = p.parse_args()
    rows = [] if a.no_speed else speed('tiny', TINY_UNET, 32, 'cpu', torch.float32, a.n)
    if torch.cuda.is_available() and not a.no_speed: rows += speed('sd15', SD15_UNET, 1, 'cuda', torch.float16, a.n)
    if rows:
        print('| UNet | call | batch | bare s | with adapter s | adapter / bare | peak GiB bare / adapter | adapter parameters |')
        print('|---|---|---|---|---|---|---|---|')
        for name, call, b, bare, ad, bp, peak, n in rows:
            print(f"| {name} | {call} | {b} | {bare:.4f} | {ad:.4f} | {ad / bare:.2f}x | {'-' if peak is None else f'{bp:.1f} / {peak:.1f}'} | {n / 1e6:.2f} M |")
    if a.run:
        run = Path(a.run)   # the run's own base when it trained one (--base scratch), else the packaged one
        pipe = load_generator(str(run / 'base') if (run / 'base/config.json').is_file() else 'tiny'); load_adapter(pipe, run / 'adapter.safetensors')
        gates = {n: round(torch.tanh(l.gate).item(), 3) for n, l in pipe.unet.spatial_adapter.layers.items()}
        print('\ntanh(gate) per adapted layer:', json.dumps(gates))
        print('\n| grounding fraction | drawn with | mean IoU | right colour and shape at the boxes | anywhere | objects |\n|---|---|---|---|---|---|')
        for f in (float(x) for x in a.fractions.split(',')):
            ev = evaluate_layout(pipe, 'data/shapes/val/layout.jsonl', a.scenes, grounding_fraction=f, steps=a.steps)
            for k, v in ev.items():
                if k == 'without_boxes' and f != float(a.fractions.split(',')[0]): continue   # the same seeds every time: once is enough
                print(f"| {f:g} | {k.replace('_', ' ')} | {v['mean_iou']:.3f} ± {v['mean_iou_se']:.3f} | {v['correct']:.1%} ± {v['correct_se']:.1%} | {v['correct_anywhere']:.1%} | {v['n']} |", flush=True)
