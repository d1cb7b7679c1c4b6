// SPDX-License-Identifier: MIT
// Compute-heavy work for the execution benches, in the style of Péter Szilágyi's
// snailtracer (the EVM's ray-tracing benchmark): spheres lit by one light, traced in
// signed fixed-point arithmetic (6 decimals). `trace(w, h)` renders a w×h image and
// keeps a checksum of its pixels. Signed 256-bit MUL, SDIV and square roots dominate.
pragma solidity ^0.8.28;

contract Tracer {
    int256 private constant ONE = 1e6;

    struct V {
        int256 x;
        int256 y;
        int256 z;
    }

    uint256 public last;

    function trace(uint256 w, uint256 h) external returns (uint256 sum) {
        V[3] memory centers = [V(0, 0, -3 * ONE), V(1200000, 300000, -4 * ONE), V(-1 * ONE, -500000, -2500000)];
        int256[3] memory radii = [ONE, int256(800000), int256(500000)];
        V memory light = norm(V(ONE, ONE, ONE));
        int256 iw = int256(w);
        int256 ih = int256(h);
        unchecked {
            for (int256 y = 0; y < ih; y++) {
                for (int256 x = 0; x < iw; x++) {
                    V memory dir = norm(V(((2 * x - iw) * ONE) / iw, ((ih - 2 * y) * ONE) / ih, -ONE));
                    int256 best = type(int256).max;
                    uint256 hit = 3;
                    for (uint256 s = 0; s < 3; s++) {
                        V memory oc = V(-centers[s].x, -centers[s].y, -centers[s].z);
                        int256 b = dot(oc, dir);
                        int256 c = dot(oc, oc) - (radii[s] * radii[s]) / ONE;
                        int256 disc = (b * b) / ONE - c;
                        if (disc > 0) {
                            int256 t = -b - sqrt(disc * ONE);
                            if (t > 0 && t < best) {
                                best = t;
                                hit = s;
                            }
                        }
                    }
                    uint256 color = 0;
                    if (hit < 3) {
                        V memory p = V((dir.x * best) / ONE, (dir.y * best) / ONE, (dir.z * best) / ONE);
                        V memory n = norm(V(p.x - centers[hit].x, p.y - centers[hit].y, p.z - centers[hit].z));
                        int256 shade = dot(n, light);
                        if (shade > 0) color = uint256((shade * 255) / ONE);
                    }
                    sum = sum * 31 + color;
                }
            }
        }
        last = sum;
    }

    function dot(V memory a, V memory b) private pure returns (int256) {
        unchecked {
            return (a.x * b.x + a.y * b.y + a.z * b.z) / ONE;
        }
    }

    function norm(V memory a) private pure returns (V memory) {
        unchecked {
            int256 len = sqrt(dot(a, a) * ONE);
            return V((a.x * ONE) / len, (a.y * ONE) / len, (a.z * ONE) / len);
        }
    }

    /// The integer square root (Babylonian method).
    function sqrt(int256 v) private pure returns (int256 r) {
        if (v <= 0) return 0;
        unchecked {
            r = v;
            int256 next = (v + 1) / 2;
            while (next < r) {
                r = next;
                next = (v / next + next) / 2;
            }
        }
    }
}
