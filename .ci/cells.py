"Notebooks as lessons: in every notebook at least 9 of 10 code cells are under 20 lines."
import json, sys
from pathlib import Path
bad = []
for f in sorted(Path('nbs').glob('*.ipynb')):
    code = [c for c in json.loads(f.read_text())['cells'] if c['cell_type'] == 'code']
    long = [c.get('id') for c in code if len(''.join(c['source']).splitlines()) >= 20]
    if len(long) * 10 > len(code): bad.append(f"{f.name}: {len(long)} of {len(code)} code cells have 20 lines or more ({', '.join(long)})")
if bad: sys.exit('FAIL: ' + '; '.join(bad))
print('cells: every notebook has at least 9 of 10 code cells under 20 lines')
