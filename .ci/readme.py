"""Render README.md from nbs/index.ipynb without Quarto.

`nbdev_readme` needs Quarto; this does the same for what the README holds (markdown, code, text outputs), so
the README can be regenerated and checked anywhere. Image outputs are left out (they show on the docs site).
Usage: python .ci/readme.py [--check]   (--check: exit 1 if README.md is out of date)
"""
import json, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
nb = json.loads((root/'nbs/index.ipynb').read_text(encoding='utf-8'))
src = lambda c: ''.join(c['source'])
parts = []
for c in nb['cells']:
    text = src(c)
    if c['cell_type'] == 'markdown': parts.append(text.strip()); continue
    lines = text.splitlines()
    if any(l.strip() in ('#| hide', '#|hide') for l in lines): continue
    code = '\n'.join(l for l in lines if not l.lstrip().startswith('#|')).strip()
    if code: parts.append(f"```python\n{code}\n```")
    for o in c.get('outputs', []):
        out = ''.join(o.get('text', '') or o.get('data', {}).get('text/markdown', '')
                      or ('' if 'image/png' in o.get('data', {}) else o.get('data', {}).get('text/plain', '')))
        if out.strip(): parts.append(f"    {out.rstrip()}".replace('\n', '\n    '))
readme = '<!-- Generated from nbs/index.ipynb by .ci/readme.py: edit the notebook, not this file. -->\n\n' + '\n\n'.join(parts) + '\n'
if '--check' in sys.argv:
    if (root/'README.md').read_text(encoding='utf-8') != readme:
        sys.exit("README.md is out of date with nbs/index.ipynb: run `python .ci/readme.py`")
else: (root/'README.md').write_text(readme, encoding='utf-8')
