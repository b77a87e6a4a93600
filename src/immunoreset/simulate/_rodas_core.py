"""Rodas4 batch solver core, compiled with Numba (nopython) and cached on disk.

This file is a template: :func:`immunoreset.simulate.rodas.build_solver` writes one module per model
containing the generated kernels and constants of that model followed by everything below the
``CORE`` marker, imports it and lets Numba cache the machine code next to it. The placeholder
definitions above the marker only make this file importable and checkable on its own.

Method: RODAS of Hairer & Wanner (*Solving ODEs II*, 2nd ed., §IV.7; coefficient set 1 of ``rodas.f``):
6 stages, L-stable, stiffly accurate, order 4 with an embedded order-3 error estimate and a continuous
order-3 dense output; step control as in ``rodas.f`` (safety 0.9, step ratio 1/6 … 5, Gustafsson
predictive controller). Iteration matrix ``W = I/(h*gamma) - J``: LU without pivoting on the
precomputed fill pattern of the structural Jacobian (a few hundred multiply-adds), checked by the
componentwise backward error of the first stage; if that exceeds 1e-10, the step uses dense LU with
partial pivoting instead (counted in ``stats[:, 4]``).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

# --- placeholders: replaced by the generated model kernels and constants (see build_solver) -------------
n = 1
nsw = 0
nout = 1
ncol = 1
nnz = 1
reads_t = False
analytic_jac = False
max_steps = 1
max_events = 1
sqrt_eps = 1.4901161193847656e-08
uround = 2.220446049250313e-16
TOO_MANY_STEPS, STEP_TOO_SMALL, TOO_MANY_EVENTS, NON_FINITE = 1, 2, 3, 4
ops = np.zeros(1, dtype=np.int64)
col_ptr = col_idx = row_ptr = row_idx = jrow_pos = np.zeros(1, dtype=np.int64)
pos = np.zeros((1, 1), dtype=np.int64)
diag_pos = div_ptr = div_pos = upd_ptr = upd_tgt = upd_src = np.zeros(1, dtype=np.int64)
lo_ptr = lo_pos = lo_col = up_ptr = up_pos = up_col = sp_ptr = sp_pos = sp_col = np.zeros(1, dtype=np.int64)


@numba.njit(cache=True)
def rhs_k(t: float, y: Any, p: Any, u: Any, sw: Any, dy: Any) -> None:
    dy[0] = 0.0


@numba.njit(cache=True)
def g_k(t: float, y: Any, p: Any, u: Any, g: Any) -> None:
    return


@numba.njit(cache=True)
def out_k(t: float, y: Any, p: Any, u: Any, sw: Any, o: Any) -> None:
    o[0] = y[0]


@numba.njit(cache=True)
def jac_k(t: float, y: Any, p: Any, u: Any, sw: Any, J: Any) -> None:
    J[0] = 0.0


@numba.njit(cache=True)
def slu_factor(W: Any) -> bool:
    """Generated: LU without pivoting in place on the packed fill pattern (diagonal replaced by its
    reciprocal); False on a zero or non-finite pivot."""
    return True


@numba.njit(cache=True)
def slu_solve(W: Any, b: Any) -> None:
    """Generated: forward and back substitution with the factors of :func:`slu_factor`, in place."""
    return


@numba.njit(cache=True)
def init_k(p: Any, u: Any, y0: Any) -> None:
    y0[0] = 1.0


# --- CORE ---
# RODAS coefficients (Hairer & Wanner, rodas.f, METH=1)
_C2, _C3, _C4 = 0.386, 0.21, 0.63
_D1, _D2, _D3, _D4 = 0.25, -0.1043, 0.1035, -0.03620000000000023
_A21 = 1.544
_A31, _A32 = 0.9466785280815826, 0.2557011698983284
_A41, _A42, _A43 = 3.314825187068521, 2.896124015972201, 0.9986419139977817
_A51, _A52, _A53, _A54 = 1.221224509226641, 6.019134481288629, 12.53708332932087, -0.687886036105895
_C21 = -5.6688
_C31, _C32 = -2.430093356833875, -0.2063599157091915
_C41, _C42, _C43 = -0.1073529058151375, -9.594562251023355, -20.47028614809616
_C51, _C52, _C53, _C54 = 7.496443313967647, -10.24680431464352, -33.99990352819905, 11.7089089320616
_C61, _C62, _C63, _C64, _C65 = (
    8.083246795921522,
    -7.981132988064893,
    -31.52159432874371,
    16.31930543123136,
    -6.058818238834054,
)
_GAMMA = 0.25
_E21, _E22, _E23, _E24, _E25 = (
    10.12623508344586,
    -7.487995877610167,
    -34.80091861555747,
    -7.992771707568823,
    1.025137723295662,
)
_E31, _E32, _E33, _E34, _E35 = (
    -0.6762803392801253,
    6.087714651680015,
    16.43084320892478,
    24.76722511418386,
    -6.594389125716872,
)


@numba.njit(cache=True)
def flag_of(g: float, op: int) -> float:
    if op < 0:
        return 1.0 if g < 0.0 else 0.0
    return 1.0 if g > 0.0 else 0.0


@numba.njit(cache=True)
def jac_fd(t: float, y: Any, p: Any, u: Any, sw: Any, f0: Any, J: Any, yy: Any, f1: Any, hs: Any) -> None:
    # J: packed values on the LU fill pattern (entries outside the structural pattern stay 0)
    for q in range(nnz):
        J[q] = 0.0
    for i in range(n):
        yy[i] = y[i]
    for c in range(ncol):
        for q in range(col_ptr[c], col_ptr[c + 1]):
            j = col_idx[q]
            h = sqrt_eps * max(abs(y[j]), 1e-6)
            yy[j] = y[j] + h
            hs[j] = yy[j] - y[j]
        rhs_k(t, yy, p, u, sw, f1)
        for q in range(col_ptr[c], col_ptr[c + 1]):
            j = col_idx[q]
            for r in range(row_ptr[j], row_ptr[j + 1]):
                i = row_idx[r]
                J[jrow_pos[r]] = (f1[i] - f0[i]) / hs[j]
            yy[j] = y[j]


@numba.njit(cache=True)
def factor(J: Any, fac: float, W: Any, Wd: Any, piv: Any) -> int:
    # 1 = sparse LU in W, 2 = dense partial-pivoting LU in Wd (fallback), 0 = singular
    for q in range(nnz):
        W[q] = -J[q]
    for k in range(n):
        W[diag_pos[k]] += fac
    if slu_factor(W):
        return 1
    return dense_factor(J, fac, Wd, piv)


@numba.njit(cache=True)
def dense_factor(J: Any, fac: float, Wd: Any, piv: Any) -> int:
    for i in range(n):
        for j in range(n):
            Wd[i, j] = 0.0 if pos[i, j] < 0 else -J[pos[i, j]]
        Wd[i, i] += fac
    if lu_factor(Wd, piv):
        return 2
    return 0


@numba.njit(cache=True)
def backward_error(J: Any, fac: float, b: Any, x: Any) -> float:
    # componentwise (Oettli-Prager) backward error of x for (fac*I - J) x = b, J on its structural pattern
    worst = 0.0
    for i in range(n):
        r = b[i] - fac * x[i]
        a = abs(b[i]) + abs(fac * x[i])
        for q in range(sp_ptr[i], sp_ptr[i + 1]):
            v = J[sp_pos[q]] * x[sp_col[q]]
            r += v
            a += abs(v)
        if a > 0.0:
            worst = max(worst, abs(r) / a)
        elif r != 0.0:
            return np.inf
    return worst


@numba.njit(cache=True)
def lin_solve(mode: int, W: Any, Wd: Any, piv: Any, b: Any) -> None:
    if mode == 1:
        slu_solve(W, b)
    else:
        lu_solve(Wd, piv, b)


@numba.njit(cache=True)
def lu_factor(A: Any, piv: Any) -> bool:
    for k in range(n):
        m = k
        big = abs(A[k, k])
        for i in range(k + 1, n):
            v = abs(A[i, k])
            if v > big:
                big = v
                m = i
        piv[k] = m
        if big == 0.0 or not np.isfinite(big):
            return False
        if m != k:
            for j in range(n):
                tmp = A[k, j]
                A[k, j] = A[m, j]
                A[m, j] = tmp
        inv = 1.0 / A[k, k]
        for i in range(k + 1, n):
            a = A[i, k]
            if a != 0.0:
                a *= inv
                A[i, k] = a
                for j in range(k + 1, n):
                    A[i, j] -= a * A[k, j]
    return True


@numba.njit(cache=True)
def lu_solve(A: Any, piv: Any, b: Any) -> None:
    for k in range(n):
        m = piv[k]
        if m != k:
            tmp = b[k]
            b[k] = b[m]
            b[m] = tmp
    for i in range(n):
        s = b[i]
        for j in range(i):
            s -= A[i, j] * b[j]
        b[i] = s
    for i in range(n - 1, -1, -1):
        s = b[i]
        for j in range(i + 1, n):
            s -= A[i, j] * b[j]
        b[i] = s / A[i, i]


@numba.njit(cache=True)
def dense(y0: Any, y1: Any, q2: Any, q3: Any, s: float, res: Any) -> None:
    for i in range(n):
        res[i] = (1.0 - s) * y0[i] + s * (y1[i] + (1.0 - s) * (q2[i] + s * q3[i]))


@numba.njit(cache=True)
def solve_one(
    p: Any,
    u: Any,
    times: Any,
    rtol: float,
    atol: Any,
    out: Any,
    states: Any,
    want_states: bool,
    ev_t: Any,
    ev_k: Any,
    stats: Any,
) -> tuple[int, int]:
    nt = times.shape[0]
    y = np.empty(n)
    ynew = np.empty(n)
    yy = np.empty(n)
    f0 = np.empty(n)
    f1 = np.empty(n)
    fx = np.zeros(n)
    hs = np.empty(n)
    k1 = np.empty(n)
    k2 = np.empty(n)
    k3 = np.empty(n)
    k4 = np.empty(n)
    k5 = np.empty(n)
    k6 = np.empty(n)
    q2 = np.empty(n)
    q3 = np.empty(n)
    yi = np.empty(n)
    J = np.zeros(nnz)
    W = np.empty(nnz)
    Wd = np.empty((n, n))
    piv = np.empty(n, dtype=np.int64)
    sw = np.zeros(max(nsw, 1))
    g = np.zeros(max(nsw, 1))
    gnew = np.zeros(max(nsw, 1))
    ov = np.empty(nout)
    n_ev = 0
    nacc = 0
    nrej = 0
    nfev = 0
    njev = 0
    ndense = 0

    t = times[0]
    tend = times[nt - 1]
    init_k(p, u, y)
    if nsw > 0:
        g_k(t, y, p, u, g)
        for s in range(nsw):
            sw[s] = flag_of(g[s], ops[s])
    out_k(t, y, p, u, sw, ov)
    for o in range(nout):
        out[o, 0] = ov[o]
    if want_states:
        for i in range(n):
            states[i, 0] = y[i]
    kout = 1

    # initial step (Hairer & Wanner, simplified): 1 % of |y|/|f| in the weighted norm
    rhs_k(t, y, p, u, sw, f0)
    nfev += 1
    d0 = 0.0
    d1 = 0.0
    for i in range(n):
        sc = atol[i] + rtol * abs(y[i])
        d0 += (y[i] / sc) ** 2
        d1 += (f0[i] / sc) ** 2
    d0 = np.sqrt(d0 / n)
    d1 = np.sqrt(d1 / n)
    h = 1e-6 if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / d1
    h = min(h, tend - t)
    hacc = 0.0
    erracc = 1.0
    first = True
    reject = False
    status = 0

    while t < tend:
        if nacc + nrej >= max_steps:
            status = TOO_MANY_STEPS
            break
        # f0 and Jacobian at (t, y) (f0 is current: computed at start or after the last accepted step)
        if analytic_jac:
            jac_k(t, y, p, u, sw, J)
        else:
            jac_fd(t, y, p, u, sw, f0, J, yy, f1, hs)
            nfev += ncol
        njev += 1
        if reads_t:
            dt = sqrt_eps * max(1e-5, abs(t))
            rhs_k(t + dt, y, p, u, sw, f1)
            nfev += 1
            for i in range(n):
                fx[i] = (f1[i] - f0[i]) / dt
        accepted = False
        nsing = 0
        while not accepted:
            if 0.1 * abs(h) <= abs(t) * uround or h <= 0.0:
                status = STEP_TOO_SMALL
                break
            last = False
            if t + 1.0001 * h >= tend:
                h = tend - t
                last = True
            fac = 1.0 / (h * _GAMMA)
            mode = factor(J, fac, W, Wd, piv)
            if mode == 2:
                ndense += 1
            if mode == 0:
                nsing += 1
                if nsing >= 5:
                    status = STEP_TOO_SMALL
                    break
                h *= 0.5
                continue
            hd1 = h * _D1
            hd2 = h * _D2
            hd3 = h * _D3
            hd4 = h * _D4
            # stage 1
            for i in range(n):
                k1[i] = f0[i] + hd1 * fx[i]
                yi[i] = k1[i]
            lin_solve(mode, W, Wd, piv, k1)
            if mode == 1 and backward_error(J, fac, yi, k1) > 1e-10:
                # the unpivoted sparse LU was inaccurate: dense partial pivoting for this step
                mode = dense_factor(J, fac, Wd, piv)
                if mode == 0:
                    nsing += 1
                    h *= 0.5
                    continue
                ndense += 1
                for i in range(n):
                    k1[i] = yi[i]
                lin_solve(mode, W, Wd, piv, k1)
            # stage 2
            for i in range(n):
                yi[i] = y[i] + _A21 * k1[i]
            rhs_k(t + _C2 * h, yi, p, u, sw, f1)
            for i in range(n):
                k2[i] = f1[i] + hd2 * fx[i] + (_C21 / h) * k1[i]
            lin_solve(mode, W, Wd, piv, k2)
            # stage 3
            for i in range(n):
                yi[i] = y[i] + _A31 * k1[i] + _A32 * k2[i]
            rhs_k(t + _C3 * h, yi, p, u, sw, f1)
            for i in range(n):
                k3[i] = f1[i] + hd3 * fx[i] + (_C31 * k1[i] + _C32 * k2[i]) / h
            lin_solve(mode, W, Wd, piv, k3)
            # stage 4
            for i in range(n):
                yi[i] = y[i] + _A41 * k1[i] + _A42 * k2[i] + _A43 * k3[i]
            rhs_k(t + _C4 * h, yi, p, u, sw, f1)
            for i in range(n):
                k4[i] = f1[i] + hd4 * fx[i] + (_C41 * k1[i] + _C42 * k2[i] + _C43 * k3[i]) / h
            lin_solve(mode, W, Wd, piv, k4)
            # stage 5
            for i in range(n):
                yi[i] = y[i] + _A51 * k1[i] + _A52 * k2[i] + _A53 * k3[i] + _A54 * k4[i]
            rhs_k(t + h, yi, p, u, sw, f1)
            for i in range(n):
                k5[i] = f1[i] + (_C51 * k1[i] + _C52 * k2[i] + _C53 * k3[i] + _C54 * k4[i]) / h
            lin_solve(mode, W, Wd, piv, k5)
            # embedded solution, stage 6
            for i in range(n):
                yi[i] += k5[i]
            rhs_k(t + h, yi, p, u, sw, f1)
            for i in range(n):
                k6[i] = f1[i] + (_C61 * k1[i] + _C62 * k2[i] + _C63 * k3[i] + _C64 * k4[i] + _C65 * k5[i]) / h
            lin_solve(mode, W, Wd, piv, k6)
            nfev += 5
            err = 0.0
            for i in range(n):
                ynew[i] = yi[i] + k6[i]
                sc = atol[i] + rtol * max(abs(y[i]), abs(ynew[i]))
                err += (k6[i] / sc) ** 2
            err = np.sqrt(err / n)
            if not np.isfinite(err):
                nrej += 1
                h *= 0.2
                reject = True
                continue
            fac = max(1.0 / 6.0, min(5.0, err**0.25 / 0.9))
            hnew = h / fac
            if err <= 1.0:
                if not first:
                    facgus = (hacc / h) * (err * err / erracc) ** 0.25 / 0.9
                    facgus = max(1.0 / 6.0, min(5.0, facgus))
                    fac = max(fac, facgus)
                    hnew = h / fac
                hacc = h
                erracc = max(1e-2, err)
                if reject:
                    hnew = min(hnew, h)
                accepted = True
                first = False
                reject = False
                nacc += 1
            else:
                if first:
                    h *= 0.1
                else:
                    h = hnew
                reject = True
                nrej += 1
        if status != 0:
            break
        # dense-output coefficients of this step
        for i in range(n):
            q2[i] = _E21 * k1[i] + _E22 * k2[i] + _E23 * k3[i] + _E24 * k4[i] + _E25 * k5[i]
            q3[i] = _E31 * k1[i] + _E32 * k2[i] + _E33 * k3[i] + _E34 * k4[i] + _E35 * k5[i]
        tnew = tend if last else t + h
        # event detection at the end of the step
        s_hit = 2.0
        which = -1
        if nsw > 0:
            g_k(tnew, ynew, p, u, gnew)
            for s in range(nsw):
                if flag_of(gnew[s], ops[s]) != sw[s]:
                    # Illinois on the dense output: a = no change yet, b = changed
                    a, b = 0.0, 1.0
                    ga = g[s]
                    gb = gnew[s]
                    side = 0
                    for _it in range(200):
                        if b - a <= 1e-13:
                            break
                        if gb != ga:
                            m = b - gb * (b - a) / (gb - ga)
                        else:
                            m = 0.5 * (a + b)
                        if not (m > a and m < b):
                            m = 0.5 * (a + b)
                        dense(y, ynew, q2, q3, m, yi)
                        g_k(t + m * h, yi, p, u, gnew)
                        gm = gnew[s]
                        if flag_of(gm, ops[s]) != sw[s]:
                            b = m
                            gb = gm
                            if side == 1:
                                ga *= 0.5
                            side = 1
                        else:
                            a = m
                            ga = gm
                            if side == -1:
                                gb *= 0.5
                            side = -1
                    if b < s_hit:
                        s_hit = b
                        which = s
            g_k(tnew, ynew, p, u, gnew)
        t_seg_end = tnew if which < 0 else (t + s_hit * h if s_hit < 1.0 else tnew)
        # outputs on the grid within (t, t_seg_end]
        while kout < nt and times[kout] <= t_seg_end:
            tk = times[kout]
            if tk == tnew:
                for i in range(n):
                    yi[i] = ynew[i]
            else:
                dense(y, ynew, q2, q3, (tk - t) / h, yi)
            out_k(tk, yi, p, u, sw, ov)
            for o in range(nout):
                out[o, kout] = ov[o]
            if want_states:
                for i in range(n):
                    states[i, kout] = yi[i]
            kout += 1
        if which >= 0:
            if s_hit < 1.0:
                dense(y, ynew, q2, q3, s_hit, yi)
                for i in range(n):
                    y[i] = yi[i]
                t = t + s_hit * h
            else:
                for i in range(n):
                    y[i] = ynew[i]
                t = tnew
            sw[which] = 1.0 - sw[which]
            if n_ev < ev_t.shape[0]:
                ev_t[n_ev] = t
                ev_k[n_ev] = 2 * which + int(sw[which])
            n_ev += 1
            if n_ev > max_events:
                status = TOO_MANY_EVENTS
                break
            g_k(t, y, p, u, g)
            h = min(hnew, max(tend - t, 0.0))
            first = True
            reject = False
        else:
            for i in range(n):
                y[i] = ynew[i]
            for s in range(nsw):
                g[s] = gnew[s]
            t = tnew
            h = hnew
        for i in range(n):
            if not np.isfinite(y[i]):
                status = NON_FINITE
        if status != 0:
            break
        if t < tend:
            rhs_k(t, y, p, u, sw, f0)
            nfev += 1
    if status == 0 and kout < nt:
        # grid points at exactly tend after a final event
        while kout < nt:
            out_k(times[kout], y, p, u, sw, ov)
            for o in range(nout):
                out[o, kout] = ov[o]
            if want_states:
                for i in range(n):
                    states[i, kout] = y[i]
            kout += 1
    if status == 0:
        for o in range(nout):
            for k in range(nt):
                if not np.isfinite(out[o, k]):
                    status = NON_FINITE
    stats[0] = nacc
    stats[1] = nrej
    stats[2] = nfev
    stats[3] = njev
    stats[4] = ndense
    return status, n_ev


@numba.njit(cache=True, parallel=True)
def solve_batch(
    P: Any,
    U: Any,
    times: Any,
    rtol: float,
    atol: Any,
    out: Any,
    states: Any,
    ev_t: Any,
    ev_k: Any,
    n_ev: Any,
    stats: Any,
    status: Any,
) -> None:
    """Integrate every row of ``P``/``U`` (patients in parallel over the Numba threads). ``states`` is
    (patients, n_states, n_times) to receive the state vectors, or shape (0, 0, 0) to skip them."""
    want = states.shape[0] > 0
    dummy = np.empty((1, 1))
    for i in numba.prange(P.shape[0]):
        st_i = states[i] if want else dummy
        res = solve_one(P[i], U[i], times, rtol, atol, out[i], st_i, want, ev_t[i], ev_k[i], stats[i])
        status[i] = res[0]
        n_ev[i] = res[1]


@numba.njit(cache=True)
def solve_serial(
    P: Any,
    U: Any,
    times: Any,
    rtol: float,
    atol: Any,
    out: Any,
    states: Any,
    ev_t: Any,
    ev_k: Any,
    n_ev: Any,
    stats: Any,
    status: Any,
) -> None:
    """As :func:`solve_batch`, in the calling thread only (no Numba threading layer: safe in forked workers
    and inside other thread pools)."""
    want = states.shape[0] > 0
    dummy = np.empty((1, 1))
    for i in range(P.shape[0]):
        st_i = states[i] if want else dummy
        res = solve_one(P[i], U[i], times, rtol, atol, out[i], st_i, want, ev_t[i], ev_k[i], stats[i])
        status[i] = res[0]
        n_ev[i] = res[1]
