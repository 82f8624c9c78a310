#!/usr/bin/env python3
"""Independent reference for Tests/NablaCoreTests/RandomTests.swift.

Implements, in pure Python from the published algorithms (Vigna, https://prng.di.unimi.it/:
splitmix64.c and xoshiro256starstar.c), the generator NablaCore documents:
the four state words are the first four outputs of SplitMix64 started at `seed`,
then xoshiro256** produces 64-bit words; doubles are (x >> 11) * 2^-53; integers in
0..<n use Lemire's multiply-shift with rejection; normals use the Marsaglia polar method.

It prints Swift literals to paste into RandomTests.swift.

Run:  python3 Scripts/reference_random.py
"""
import math

MASK = (1 << 64) - 1


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return state, z ^ (z >> 31)


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK


class Xoshiro256StarStar:
    def __init__(self, seed):
        sm = seed & MASK
        self.s = []
        for _ in range(4):
            sm, z = splitmix64(sm)
            self.s.append(z)
        self.spare = None

    def next(self):
        s = self.s
        result = (rotl((s[1] * 5) & MASK, 7) * 9) & MASK
        t = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result

    def next_double(self):
        return (self.next() >> 11) * 2.0 ** -53

    def next_int(self, n):
        m = self.next() * n
        low = m & MASK
        if low < n:
            threshold = (-n % (1 << 64)) % n
            while low < threshold:
                m = self.next() * n
                low = m & MASK
        return m >> 64

    def next_normal(self):
        if self.spare is not None:
            z, self.spare = self.spare, None
            return z
        while True:
            u = 2 * self.next_double() - 1
            v = 2 * self.next_double() - 1
            q = u * u + v * v
            if 0 < q < 1:
                f = math.sqrt(-2 * math.log(q) / q)
                self.spare = v * f
                return u * f


def main():
    # Sanity check against the published SplitMix64 output for seed 0.
    assert splitmix64(0)[1] == 0xE220A8397B1DCDAF
    for seed in [0, 42, 0xFFFFFFFFFFFFFFFF]:
        g = Xoshiro256StarStar(seed)
        state = list(g.s)
        raw = [g.next() for _ in range(6)]
        g = Xoshiro256StarStar(seed)
        doubles = [g.next_double() for _ in range(4)]
        g = Xoshiro256StarStar(seed)
        ints = [g.next_int(n) for n in [10, 3, 1000, 7, 2, 1 << 40]]
        g = Xoshiro256StarStar(seed)
        normals = [g.next_normal() for _ in range(5)]
        print(f"        ({seed:#x}, state: [{', '.join(f'{w:#018x}' for w in state)}],")
        print(f"         raw: [{', '.join(f'{w:#018x}' for w in raw)}],")
        print(f"         doubles: [{', '.join(repr(d) for d in doubles)}],")
        print(f"         ints: [{', '.join(str(i) for i in ints)}],")
        print(f"         normals: [{', '.join(repr(z) for z in normals)}]),")


if __name__ == "__main__":
    main()
