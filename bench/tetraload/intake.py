"""Writes a generated graph's CSV export (exec's BenchmarkExportCSV:
components.csv, labels.csv, relations.csv) as StackState intake files for
`tetra load`: 10 files, each with a tenth of the components and the
relations that leave them (a relation whose target is in a later file waits
for it, as an agent's would).

    python3 intake.py CSV_DIR OUT_DIR
"""
import collections
import csv
import json
import sys

FILES = 10


def main(src, out):
    labels = collections.defaultdict(list)
    for cid, label in csv.reader(open(src + '/labels.csv')):
        labels[int(cid)].append(label)
    comps = list(csv.reader(open(src + '/components.csv')))
    per = -(-len(comps) // FILES)
    rels = collections.defaultdict(list)
    for rid, s, t, typ in csv.reader(open(src + '/relations.csv')):
        rels[(int(s) - 1) // per].append((rid, int(s), int(t), typ))
    for part in range(FILES):
        with open('%s/part-%02d.json' % (out, part), 'w') as f:
            f.write('{"topologies":[{"instance":{"type":"bench","url":"csv"},"components":[')
            for i, (cid, name, typ, layer, domain, env, _) in enumerate(comps[part * per:(part + 1) * per]):
                c = {"externalId": name, "type": {"name": typ},
                     "data": {"name": name, "layer": layer, "domain": domain, "environment": env,
                              "labels": labels[int(cid)]}}
                f.write((',' if i else '') + json.dumps(c, separators=(',', ':')))
            f.write('],"relations":[')
            for i, (rid, s, t, typ) in enumerate(rels[part]):
                r = {"externalId": "r" + rid, "type": {"name": typ},
                     "sourceId": comps[s - 1][1], "targetId": comps[t - 1][1]}
                f.write((',' if i else '') + json.dumps(r, separators=(',', ':')))
            f.write(']}]}')


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
