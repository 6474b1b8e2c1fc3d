"""prom_rules.py - the Prometheus naming rules weft's /metrics keep and promtool does not check
(docs/api.md, "/metrics"), for the node's and the hub's API tests: every family typed once, as counter or
gauge, with a HELP line; counters and only counters end in _total; every name starts with weft_; and a
weft_build_info{version="..."} 1. read_checked(text) asserts all that and returns (types, samples):
family name -> type, and 'name{labels}' -> value."""
import re


def read_checked(text):
    types, helps, samples = {}, set(), {}
    for line in text.splitlines():
        if line.startswith('# TYPE '):
            _, _, name, kind = line.split(' ', 3)
            assert name not in types, ('family typed twice', name)
            types[name] = kind
        elif line.startswith('# HELP '):
            helps.add(line.split(' ')[2])
        elif line:
            m = re.fullmatch(r'([a-z_][a-z0-9_]*)(\{.*\})? (\S+)', line)
            assert m, ('not a sample', line)
            samples[m.group(1) + (m.group(2) or '')] = float(m.group(3))
            name = m.group(1)
            assert name.startswith('weft_'), name
            assert types.get(name) in ('counter', 'gauge'), ('untyped', line)
            assert name in helps, ('no HELP', name)
            assert (types[name] == 'counter') == name.endswith('_total'), \
                ('_total on a gauge or missing on a counter', name)
    assert any(re.fullmatch(r'weft_build_info\{version="[^"]+"\}', k) and v == 1 for k, v in samples.items()), \
        'no weft_build_info'
    return types, samples
