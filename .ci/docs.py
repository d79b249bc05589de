"""The docs site's build up to Quarto: what `nbdev_docs` (and `nbdev_proc_nbs`) run before `quarto render`.
Every notebook must process — its import cells and `show_doc` cells executed on their own, as nbdev's docs step does —
with no cell that mixes imports and other code (nbdev would execute such a cell without the cells before it).
Quarto itself is not needed: nbdev's own step would try to install it first, which needs root and the network."""
import sys, warnings
from pathlib import Path
import nbdev.doclinks
from nbdev.quarto import nbdev_sidebar, proc_nbs, refresh_quarto_yml

warnings.filterwarnings('error', message='Found cells containing imports')   # nbdev only warns; a docs build must not depend on luck
refresh_quarto_yml()
nbdev.doclinks._build_modidx()
nbdev_sidebar.__wrapped__(path='nbs')
cache = proc_nbs('nbs', n_workers=0, force=True)   # in this process, so the warning filter above applies
n = len(list(Path(cache).glob('*.ipynb')))
if n < len([p for p in Path('nbs').glob('*.ipynb') if not p.name.startswith('_')]): sys.exit(f'FAIL: only {n} notebooks processed for the docs')
print(f'docs: {n} notebooks processed for Quarto ({cache})')
