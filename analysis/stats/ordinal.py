"""Proportional-odds model with a grouped fixed effect, by Newton's method
with an analytic score and observed information.

Model (McCullagh 1980, "Regression models for ordinal data", JRSS B
42:109–142, eq. 2.4; Agresti 2010, *Analysis of ordinal categorical data*,
2nd ed., §3.2)::

    P(Y_i ≤ j) = F(τ_j − x_iᵀβ − α_g(i)),   j = 0 … K−2,

for an answer Y_i in K ordered categories coded 0 … K−1, a link F (the
standard logistic for the proportional-odds logit, or the normal for the
ordinal probit), K − 1 increasing thresholds τ, slopes β on p covariates and
one effect α_g per group (a CAE); rows of the reference group have α = 0
(treatment coding, as the dense dummies of statsmodels' ``OrderedModel``).
β > 0 moves answers towards higher categories.

Log-likelihood. With u_i = τ_{y_i} − η_i and l_i = τ_{y_i − 1} − η_i
(τ_{−1} = −∞, τ_{K−1} = +∞, η_i = x_iᵀβ + α_g(i)) each row contributes
ℓ_i = log P_i, P_i = F(u_i) − F(l_i). Writing f = F′, g = f′/f,
r_u = f(u)/P and r_l = f(l)/P, the derivatives in (u, l) are (Agresti 2010
§3.3.3; Pratt 1981, JASA 76:103–106 for concavity)::

    ∂ℓ/∂u = r_u,              ∂ℓ/∂l = −r_l,
    ∂²ℓ/∂u² = r_u·g(u) − r_u²,  ∂²ℓ/∂l² = −r_l·g(l) − r_l²,  ∂²ℓ/∂u∂l = r_u·r_l,

and the chain rule through ∂u/∂β = ∂l/∂β = −x_i, ∂u/∂α_g = ∂l/∂α_g = −1
(row in group g), ∂u/∂τ_j = 1[y_i = j], ∂l/∂τ_j = 1[y_i − 1 = j] gives the
score and the observed information exactly (no numerical differentiation).
For a log-concave density (logistic, normal) ℓ is concave in (τ, β, α)
(Pratt 1981), so Newton's method with step halving increases ℓ at every
iteration and its fixed point is the maximum.

Sparse group block. Each row belongs to one group, so the information block
of the group effects is diagonal (D); the dense block A holds (β, τ) and the
cross block B (q × G, q = p + K − 1) sums rows by group. The Newton system
and the covariance use the Schur complement S = A − B D⁻¹ Bᵀ (Golub & Van
Loan 2013, *Matrix computations*, 4th ed., §3.2.10 / block LU; Greene 2012,
*Econometric analysis*, 7th ed., §A.5.3 for the partitioned inverse)::

    δ_θ = S⁻¹ (s_θ − B D⁻¹ s_α),           δ_α = D⁻¹ (s_α − Bᵀ δ_θ),
    Var(θ) = S⁻¹,   Cov(θ, α) = −S⁻¹ B D⁻¹,
    Var(α_g) = 1/D_g + c_gᵀ S⁻¹ c_g,   c_g = column g of B D⁻¹,

so one iteration costs O(n·q² + G·q²) time and O(n·q) memory, never a
dense (G + q)² matrix.

Thresholds are kept as they are (not as a first value and log-increments
like statsmodels): ℓ is concave in τ itself, which a log-increment
parametrisation would lose, and the covariance of τ is then read directly
(at the maximum, the inverse information is invariant to the
reparametrisation, so standard errors equal statsmodels' delta-method
ones). Order is kept by the line search: a step that would make τ not
strictly increasing is halved like one that lowers ℓ.

Separation. When a group's answers all sit in an extreme category its
effect has no finite maximum: the likelihood keeps increasing, ever less,
as α_g → ±∞, with Newton steps of roughly constant size. The loop stops
(converged = False) when for several consecutive iterations the gain
Newton predicts (½ δᵀs) is below the floating-point resolution of ℓ while
the step is not small, or at ``maxiter``; the estimates returned are then
finite (large, with large standard errors).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse, special

__all__ = ["OrdinalFit", "fit_proportional_odds", "loglik"]

_EPS = np.finfo(float).eps
#: Consecutive iterations with a negligible predicted gain and a large step
#: after which the maximum is taken to be at infinity (separation).
_FLAT_ITERATIONS = 3
#: Step halvings tried before the line search gives up.
_HALVINGS = 60


@dataclass(frozen=True)
class OrdinalFit:
    """Result of :func:`fit_proportional_odds`.

    ``cov`` is the covariance of (β, τ) in that order (q × q, q = p + K − 1),
    ``cov_alpha`` the variances of the group effects (diagonal only, length
    G) and ``cov_cross`` Cov((β, τ), α) (q × G).
    """

    beta: np.ndarray
    tau: np.ndarray
    alpha: np.ndarray
    cov: np.ndarray
    cov_alpha: np.ndarray
    cov_cross: np.ndarray
    loglik: float
    converged: bool
    n_iter: int

    @property
    def se_beta(self) -> np.ndarray:
        return np.sqrt(np.clip(np.diag(self.cov)[: len(self.beta)], 0, None))

    @property
    def se_tau(self) -> np.ndarray:
        return np.sqrt(np.clip(np.diag(self.cov)[len(self.beta):], 0, None))

    @property
    def se_alpha(self) -> np.ndarray:
        return np.sqrt(np.clip(self.cov_alpha, 0, None))


# --- links: log F, log f, g = f'/f, F⁻¹ -------------------------------------

def _logit_logcdf(x):
    return special.log_expit(x)


def _logit_logpdf(x):
    return special.log_expit(x) + special.log_expit(-x)


def _logit_g(x):
    return -np.tanh(x / 2.0)  # f'/f = 1 − 2F(x)


def _probit_logpdf(x):
    return -0.5 * x * x - 0.5 * np.log(2.0 * np.pi)


_LINKS = {
    "logit": (_logit_logcdf, _logit_logpdf, _logit_g, special.logit),
    "probit": (special.log_ndtr, _probit_logpdf, lambda x: -x, special.ndtri),
}


def _log_diff(logcdf, u, l):
    """log(F(u) − F(l)) for u > l without cancellation: for a symmetric F,
    F(u) − F(l) = F(−l) − F(−u), so the side where both values are small in
    the tail is used: log F(a) + log1p(−exp(log F(b) − log F(a)))."""
    upper = l > 0
    a = np.where(upper, -l, u)
    b = np.where(upper, -u, l)
    la = logcdf(a)
    return la + np.log1p(-np.exp(logcdf(b) - la))


class _Rows:
    """Per-row pieces that do not depend on the parameters."""

    def __init__(self, y, X, groups, n_groups, m):
        n = len(y)
        self.n, self.m = n, m
        self.y = y
        self.has_u = y <= m - 1          # an upper threshold τ_y exists
        self.has_l = y >= 1              # a lower threshold τ_{y−1} exists
        self.mid = self.has_u & self.has_l
        self.X = X
        p = X.shape[1]
        q = p + m
        rows = np.arange(n)
        # ∂u/∂(β, τ) and ∂l/∂(β, τ): [−x, e_y] and [−x, e_{y−1}] (zero where absent)
        self.Zu = np.zeros((n, q))
        self.Zl = np.zeros((n, q))
        self.Zu[:, :p] = -X
        self.Zl[:, :p] = -X
        self.Zu[rows[self.has_u], p + y[self.has_u]] = 1.0
        self.Zl[rows[self.has_l], p + y[self.has_l] - 1] = 1.0
        self.groups = groups
        self.n_groups = n_groups
        in_g = groups >= 0
        # G × n indicator: group sums of row quantities in O(n·q)
        self.P = sparse.csr_matrix((np.ones(int(in_g.sum())), (groups[in_g], rows[in_g])), shape=(n_groups, n))


def _eta(rows: _Rows, beta, alpha):
    eta = rows.X @ beta
    if rows.n_groups:
        eta = eta + np.where(rows.groups >= 0, alpha[np.clip(rows.groups, 0, None)], 0.0)
    return eta


def _u_l(rows: _Rows, tau, eta):
    m = rows.m
    u = np.where(rows.has_u, tau[np.clip(rows.y, 0, m - 1)] - eta, np.inf)
    l = np.where(rows.has_l, tau[np.clip(rows.y - 1, 0, m - 1)] - eta, -np.inf)
    return u, l


def _loglik_rows(rows: _Rows, link, u, l):
    logcdf = _LINKS[link][0]
    out = np.empty(rows.n)
    first = ~rows.has_l
    last = ~rows.has_u
    out[first] = logcdf(u[first])            # log F(τ_0 − η)
    out[last] = logcdf(-l[last])             # log(1 − F(τ_{K−2} − η)), F symmetric
    mid = rows.mid
    out[mid] = _log_diff(logcdf, u[mid], l[mid])
    return out


def _total(rows, link, beta, tau, alpha) -> float:
    if np.any(np.diff(tau) <= 0):
        return -np.inf
    u, l = _u_l(rows, tau, _eta(rows, beta, alpha))
    ll = _loglik_rows(rows, link, u, l)
    return float(ll.sum()) if np.all(np.isfinite(ll)) else -np.inf


def _derivatives(rows: _Rows, link, beta, tau, alpha):
    """Score and observed information (as blocks) at the parameters."""
    _, logpdf, g, _ = _LINKS[link]
    u, l = _u_l(rows, tau, _eta(rows, beta, alpha))
    ll = _loglik_rows(rows, link, u, l)
    hu, hl = rows.has_u, rows.has_l
    r_u = np.zeros(rows.n)
    r_l = np.zeros(rows.n)
    r_u[hu] = np.exp(logpdf(u[hu]) - ll[hu])
    r_l[hl] = np.exp(logpdf(l[hl]) - ll[hl])
    gu = np.zeros(rows.n)
    gl = np.zeros(rows.n)
    gu[hu] = g(u[hu])
    gl[hl] = g(l[hl])
    a = r_u                                  # ∂ℓ/∂u
    b = -r_l                                 # ∂ℓ/∂l
    h_uu = r_u * gu - r_u ** 2
    h_ll = -r_l * gl - r_l ** 2
    h_ul = r_u * r_l
    Zu, Zl = rows.Zu, rows.Zl
    score_t = Zu.T @ a + Zl.T @ b
    # information J = −H on (β, τ): −Σ [h_uu zu zuᵀ + h_ll zl zlᵀ + h_ul (zu zlᵀ + zl zuᵀ)]
    cross = Zu.T @ (h_ul[:, None] * Zl)
    J_A = -(Zu.T @ (h_uu[:, None] * Zu) + Zl.T @ (h_ll[:, None] * Zl) + cross + cross.T)
    if rows.n_groups:
        P = rows.P
        score_a = -(P @ (a + b))
        J_D = -(P @ (h_uu + 2.0 * h_ul + h_ll))
        # −H(θ, α_g) = Σ_{i∈g} [zu (h_uu + h_ul) + zl (h_ul + h_ll)]  (∂u/∂α = ∂l/∂α = −1)
        J_B = (P @ ((h_uu + h_ul)[:, None] * Zu + (h_ul + h_ll)[:, None] * Zl)).T
    else:
        score_a = np.zeros(0)
        J_D = np.zeros(0)
        J_B = np.zeros((len(score_t), 0))
    return float(ll.sum()), score_t, score_a, J_A, J_B, J_D


def _solve(S, rhs):
    try:
        return np.linalg.solve(S, rhs)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(S) @ rhs


def _newton_step(score_t, score_a, J_A, J_B, J_D):
    """Solve [[J_A, J_B], [J_Bᵀ, diag(J_D)]] δ = s by the Schur complement."""
    inv_d = 1.0 / np.maximum(J_D, np.finfo(float).tiny)  # a vanished information gives a huge, finite variance
    C = J_B * inv_d                          # B D⁻¹ (q × G)
    S = J_A - C @ J_B.T
    d_t = _solve(S, score_t - C @ score_a)
    d_a = inv_d * (score_a - J_B.T @ d_t)
    return d_t, d_a, S, C, inv_d


def loglik(y, X=None, groups=None, beta=None, tau=None, alpha=None, link: str = "logit") -> float:
    """Log-likelihood Σ log(F(u_i) − F(l_i)) of the model at given
    parameters (−inf when τ is not strictly increasing); arguments as in
    :func:`fit_proportional_odds`."""
    y, X, groups, n_groups, m = _inputs(y, X, groups, None)
    rows = _Rows(y, X, groups, n_groups, m)
    beta = np.zeros(X.shape[1]) if beta is None else np.asarray(beta, float)
    alpha = np.zeros(n_groups) if alpha is None else np.asarray(alpha, float)
    return _total(rows, link, beta, np.asarray(tau, float), alpha)


def _inputs(y, X, groups, n_groups):
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.equal(np.mod(y, 1), 0)):
            raise ValueError("y must hold integer category codes 0 … K−1")
        y = y.astype(int)
    n = len(y)
    X = np.zeros((n, 0)) if X is None else np.asarray(X, dtype=float).reshape(n, -1)
    if groups is None:
        groups = np.full(n, -1, dtype=int)
    groups = np.asarray(groups, dtype=int)
    if n_groups is None:
        n_groups = int(groups.max()) + 1 if n and groups.max() >= 0 else 0
    K = int(y.max()) + 1 if n else 0
    if n == 0 or y.min() < 0 or K < 2 or len(np.unique(y)) != K:
        raise ValueError("y must use every category code 0 … K−1, with K ≥ 2")
    if len(groups) != n or groups.min() < -1 or groups.max() >= n_groups:
        raise ValueError("groups must be −1 (reference) or 0 … n_groups−1")
    return y, X, groups, n_groups, K - 1


def fit_proportional_odds(y, X=None, groups=None, n_groups: int | None = None, link: str = "logit",
                          maxiter: int = 100, tol: float = 1e-8) -> OrdinalFit:
    """Maximum-likelihood fit of ``P(Y ≤ j) = F(τ_j − xᵀβ − α_g)``.

    ``y``: integer codes 0 … K−1, every code observed (an unobserved middle
    category leaves a threshold unidentified: recode first). ``X``: n × p
    covariates (no constant: the thresholds play its role), or None.
    ``groups``: group index 0 … G−1 of each row, −1 for the reference group
    (α = 0), or None for no group effect. ``link``: ``"logit"`` (McCullagh
    1980) or ``"probit"``.

    Newton–Raphson on the analytic score with the observed information,
    solved by the Schur complement on the (β, τ) block (module docstring);
    start: β = α = 0, τ_j = F⁻¹(share of answers ≤ j). Each step is halved
    until τ stays strictly increasing and ℓ does not decrease. Converged
    when the largest step component is at most ``tol``; not converged after
    ``maxiter`` iterations, a failed line search, or a separation (see the
    module docstring). Cost O(n·q² + G·q²) per iteration, memory O(n·q).
    """
    if link not in _LINKS:
        raise ValueError(f"link must be one of {sorted(_LINKS)}")
    y, X, groups, n_groups, m = _inputs(y, X, groups, n_groups)
    rows = _Rows(y, X, groups, n_groups, m)
    p = X.shape[1]
    ppf = _LINKS[link][3]
    beta = np.zeros(p)
    alpha = np.zeros(n_groups)
    tau = ppf(np.cumsum(np.bincount(y, minlength=m + 1))[:-1] / len(y))
    converged, flat, it = False, 0, 0
    for it in range(1, int(maxiter) + 1):
        ll, s_t, s_a, J_A, J_B, J_D = _derivatives(rows, link, beta, tau, alpha)
        d_t, d_a, S, C, inv_d = _newton_step(s_t, s_a, J_A, J_B, J_D)
        size = max(np.max(np.abs(d_t), initial=0.0), np.max(np.abs(d_a), initial=0.0))
        if not np.isfinite(size):
            break
        if size <= tol:
            converged = True
            break
        gain = 0.5 * (d_t @ s_t + d_a @ s_a)  # ½ δᵀ J δ: the increase Newton predicts
        flat = flat + 1 if gain <= 4 * _EPS * max(1.0, abs(ll)) else 0
        if flat >= _FLAT_ITERATIONS:
            break  # the maximum is at infinity: separation
        step = 1.0
        for _ in range(_HALVINGS):
            b_new, t_new, a_new = beta + step * d_t[:p], tau + step * d_t[p:], alpha + step * d_a
            ll_new = _total(rows, link, b_new, t_new, a_new)
            if ll_new >= ll - 4 * _EPS * max(1.0, abs(ll)):
                break
            step /= 2
        else:
            break  # no step keeps τ ordered and ℓ from decreasing
        beta, tau, alpha = b_new, t_new, a_new
    if not converged:  # the information at the last accepted parameters
        ll, s_t, s_a, J_A, J_B, J_D = _derivatives(rows, link, beta, tau, alpha)
        _, _, S, C, inv_d = _newton_step(s_t, s_a, J_A, J_B, J_D)
    q = len(s_t)
    cov = _solve(S, np.eye(q))
    cov = (cov + cov.T) / 2
    cov_cross = -cov @ C
    cov_alpha = inv_d + np.einsum("ig,ij,jg->g", C, cov, C)
    return OrdinalFit(beta=beta, tau=tau, alpha=alpha, cov=cov, cov_alpha=cov_alpha, cov_cross=cov_cross,
                      loglik=ll, converged=converged, n_iter=it)
