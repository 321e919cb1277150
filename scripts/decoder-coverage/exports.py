"""Prints, for every exported function of the given PE32+ DLLs, its name,
RVA and first 16 bytes (input of snmalloc-rs-sys/examples/x64_coverage.rs)."""
import struct
import sys


def exports(path):
    b = open(path, "rb").read()
    pe = struct.unpack_from("<I", b, 0x3C)[0]
    nsec = struct.unpack_from("<H", b, pe + 6)[0]
    optsz = struct.unpack_from("<H", b, pe + 20)[0]
    opt = pe + 24
    if struct.unpack_from("<H", b, opt)[0] != 0x20B:
        return
    erva, esz = struct.unpack_from("<II", b, opt + 112)
    secs = []
    for i in range(nsec):
        s = opt + optsz + 40 * i
        vs, va, rs, rp = struct.unpack_from("<IIII", b, s + 8)
        ch = struct.unpack_from("<I", b, s + 36)[0]
        secs.append((va, vs, rs, rp, ch))

    def off(rva):
        for va, vs, rs, rp, ch in secs:
            if va <= rva < va + max(vs, rs):
                return rp + rva - va, ch
        return None, 0

    if not erva:
        return
    eo, _ = off(erva)
    _, nnames, afun, anames, aord = struct.unpack_from("<IIIII", b, eo + 20)
    fo, _ = off(afun)
    no, _ = off(anames)
    oo, _ = off(aord)
    for i in range(nnames):
        o, _ = off(struct.unpack_from("<I", b, no + 4 * i)[0])
        name = b[o : b.index(b"\0", o)].decode()
        frva = struct.unpack_from("<I", b, fo + 4 * struct.unpack_from("<H", b, oo + 2 * i)[0])[0]
        if erva <= frva < erva + esz:
            continue  # a forwarder, not code
        code, ch = off(frva)
        if code is None or not ch & 0x20000000:
            continue  # data
        print(path.split("/")[-1], name, hex(frva), b[code : code + 16].hex())


for p in sys.argv[1:]:
    exports(p)
