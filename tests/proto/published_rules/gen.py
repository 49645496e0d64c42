#!/usr/bin/python3
"""Regenerates the fixtures of tests/proto/published_rules from published test
cases of other Matrix implementations (see the gen_*.py modules for the
sources). Not run by `make check`: the generated files are committed; run
this after editing a gen_*.py module:

    /usr/bin/python3 tests/proto/published_rules/gen.py
"""
import glob
import os
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gen_common  # noqa: E402
import gen_gmsl_auth  # noqa: E402
import gen_ruma_auth  # noqa: E402
import gen_stateres  # noqa: E402
import gen_synapse_auth  # noqa: E402


def main():
    for sub in ("auth", "stateres"):
        d = os.path.join(gen_common.HERE, sub)
        os.makedirs(d, exist_ok=True)
        for f in glob.glob(os.path.join(d, "*.json")) + glob.glob(os.path.join(d, "*.expected")):
            os.remove(f)
    gen_synapse_auth.gen()
    gen_ruma_auth.gen()
    gen_gmsl_auth.gen()
    gen_stateres.gen_synapse_v2()
    gen_stateres.gen_synapse_v21()
    gen_stateres.gen_ruma()
    gen_stateres.msc4297("11")
    gen_stateres.msc4297("12")
    gen_stateres.gen_ruma_state_res()
    gen_stateres.gen_gmsl()
    gen_stateres.gen_synapse_v1()
    gen_stateres.gen_synapse_v1_conflict()
    names = [line.split()[1] for line in gen_common.MANIFEST]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        sys.exit("duplicate case names: %s" % ", ".join(sorted(dup)))
    gen_common.write_manifest()
    print("%d cases" % len(names))


if __name__ == "__main__":
    main()
