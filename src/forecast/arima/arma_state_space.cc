#include "forecast/arima/arma_state_space.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <complex>
#include <cstring>
#include <limits>

namespace tidegate::forecast::arima_internal {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// (T x)[i] = phi_i x[0] + x[i+1], in place (ascending i reads x[i+1] before it is overwritten).
void CompanionTimes(std::span<const double> ar, std::span<double> x) {
  const size_t r = x.size();
  const double x0 = x[0];
  for (size_t i = 0; i < r; ++i) {
    const double next = i + 1 < r ? x[i + 1] : 0.0;
    x[i] = (i < ar.size() ? ar[i] * x0 : 0.0) + next;
  }
}

inline double Coef(std::span<const double> c, size_t i) { return i < c.size() ? c[i] : 0.0; }

// T x with the nonzero AR lags only: a shift (memmove) plus one multiply-add per nonzero lag.
// Seasonal polynomials are mostly zeros, and this is the inner loop of every likelihood.
struct SparseCompanion {
  std::vector<std::pair<size_t, double>> nz;  // (index, coefficient), index < r.
  explicit SparseCompanion(std::span<const double> ar) {
    for (size_t i = 0; i < ar.size(); ++i) {
      if (ar[i] != 0.0) nz.emplace_back(i, ar[i]);
    }
  }
  void Apply(double* x, size_t r) const {
    const double x0 = x[0];
    std::memmove(x, x + 1, (r - 1) * sizeof(double));
    x[r - 1] = 0.0;
    for (const auto& [i, c] : nz) x[i] += c * x0;
  }
};

}  // namespace

std::vector<double> ExpandSeasonal(std::span<const double> nonseasonal,
                                   std::span<const double> seasonal, int period, bool negate) {
  const size_t p = nonseasonal.size();
  const size_t len = p + seasonal.size() * static_cast<size_t>(period);
  std::vector<double> out(len, 0.0);
  for (size_t i = 0; i < p; ++i) out[i] += nonseasonal[i];
  for (size_t j = 0; j < seasonal.size(); ++j) {
    const size_t lag = (j + 1) * static_cast<size_t>(period);
    out[lag - 1] += seasonal[j];
    for (size_t i = 0; i < p; ++i) {
      // (1 -/+ a_i B^i)(1 -/+ A_j B^lag): the cross term has sign - for AR, + for MA.
      const double cross = nonseasonal[i] * seasonal[j];
      out[lag + i] += negate ? cross : -cross;
    }
  }
  return out;
}

std::vector<double> DifferencingPolynomial(int d, int seasonal_d, int period) {
  std::vector<double> poly = {1.0};  // Coefficients of B^0, B^1, ...
  auto multiply = [&poly](int lag) {
    std::vector<double> next(poly.size() + lag, 0.0);
    for (size_t i = 0; i < poly.size(); ++i) {
      next[i] += poly[i];
      next[i + lag] -= poly[i];
    }
    poly = std::move(next);
  };
  for (int i = 0; i < d; ++i) multiply(1);
  for (int i = 0; i < seasonal_d; ++i) multiply(period);
  std::vector<double> delta(poly.size() - 1);
  for (size_t k = 1; k < poly.size(); ++k) delta[k - 1] = -poly[k];
  return delta;
}

std::vector<double> PacfToAr(std::span<const double> u) {
  const size_t p = u.size();
  std::vector<double> phi(p), prev(p);
  for (size_t k = 0; k < p; ++k) {
    const double rk = std::tanh(u[k]);
    prev = phi;
    for (size_t j = 0; j < k; ++j) phi[j] = prev[j] - rk * prev[k - 1 - j];
    phi[k] = rk;
  }
  return phi;
}

double CompanionSpectralRadius(std::span<const double> c) {
  // Trailing zeros do not change the roots of 1 - sum c_k z^k.
  size_t n = c.size();
  while (n > 0 && c[n - 1] == 0.0) --n;
  if (n == 0) return 0.0;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(c[i])) return std::numeric_limits<double>::infinity();
  }
  if (n == 1) return std::abs(c[0]);
  Eigen::MatrixXd m = Eigen::MatrixXd::Zero(n, n);
  for (size_t i = 0; i < n; ++i) m(0, i) = c[i];
  for (size_t i = 1; i < n; ++i) m(i, i - 1) = 1.0;
  Eigen::EigenSolver<Eigen::MatrixXd> solver(m, /*computeEigenvectors=*/false);
  if (solver.info() != Eigen::Success) return std::numeric_limits<double>::infinity();
  double radius = 0;
  for (Eigen::Index i = 0; i < solver.eigenvalues().size(); ++i) {
    radius = std::max(radius, std::abs(solver.eigenvalues()[i]));
  }
  return radius;
}

bool StationaryFirstRow(std::span<const double> ar, std::span<const double> ma,
                        std::vector<double>* row) {
  const size_t p = ar.size(), q = ma.size();
  const size_t r = std::max(p, q + 1);
  // theta_0 = 1; psi weights psi_j = theta_j + sum_k phi_k psi_{j-k}.
  std::vector<double> theta(r + 1, 0.0), psi(r + 1, 0.0);
  theta[0] = 1.0;
  for (size_t j = 0; j < q; ++j) theta[j + 1] = ma[j];
  for (size_t j = 0; j <= r; ++j) {
    double s = theta[j];
    for (size_t k = 1; k <= std::min(j, p); ++k) s += ar[k - 1] * psi[j - k];
    psi[j] = s;
  }
  // rhs_k = sum_{j=k}^{q} theta_j psi_{j-k}: the covariance of w_t's MA part with w_{t-k}.
  auto rhs = [&](size_t k) {
    double s = 0;
    for (size_t j = k; j <= q; ++j) s += theta[j] * psi[j - k];
    return s;
  };
  std::vector<double> gamma(r + 1, 0.0);
  if (p == 0) {
    for (size_t k = 0; k <= r; ++k) gamma[k] = rhs(k);
  } else {
    // gamma(k) - sum_j phi_j gamma(|k - j|) = rhs_k, k = 0..p (Brockwell & Davis 1991, 3.3).
    Eigen::MatrixXd a = Eigen::MatrixXd::Identity(p + 1, p + 1);
    Eigen::VectorXd b(p + 1);
    for (size_t k = 0; k <= p; ++k) {
      for (size_t j = 1; j <= p; ++j) {
        const size_t lag = k >= j ? k - j : j - k;
        a(k, lag) -= ar[j - 1];
      }
      b(k) = rhs(k);
    }
    Eigen::PartialPivLU<Eigen::MatrixXd> lu(a);
    Eigen::VectorXd g = lu.solve(b);
    for (size_t k = 0; k <= p; ++k) gamma[k] = g(k);
    for (size_t k = p + 1; k <= r; ++k) {
      double s = rhs(k);
      for (size_t j = 1; j <= p; ++j) s += ar[j - 1] * gamma[k - j];
      gamma[k] = s;
    }
  }
  if (!(gamma[0] >= 1.0 - 1e-9) || !std::isfinite(gamma[0]) || gamma[0] > 1e12) return false;
  // alpha_t[k] = sum_{j=0}^{r-1-k} (phi_{k+1+j} w_{t-1-j} + theta_{k+j} e_{t-j}) (0-based k), so
  // Cov(w_t, alpha_t[k]) = sum_j phi_{k+1+j} gamma(1+j) + theta_{k+j} psi_j.
  row->assign(r, 0.0);
  (*row)[0] = gamma[0];
  for (size_t k = 1; k < r; ++k) {
    double s = 0;
    for (size_t j = 0; j + k < r; ++j) {
      s += Coef(ar, k + j) * gamma[1 + j] + theta[k + j] * psi[j];
    }
    (*row)[k] = s;
  }
  for (double x : *row) {
    if (!std::isfinite(x)) return false;
  }
  return true;
}

bool StationaryCovariance(std::span<const double> ar, std::span<const double> ma,
                          std::vector<double>* p) {
  std::vector<double> row;
  if (!StationaryFirstRow(ar, ma, &row)) return false;
  const size_t r = row.size();
  p->assign(r * r, 0.0);
  auto at = [&](size_t i, size_t j) -> double& { return (*p)[i * r + j]; };
  auto first = [&](size_t k) { return k < r ? row[k] : 0.0; };
  auto rv = [&](size_t i) { return i == 0 ? 1.0 : Coef(ma, i - 1); };
  // P = T P T' + R R' entrywise: P[i][j] = phi_i phi_j P00 + phi_i P[0][j+1] + phi_j P[i+1][0]
  //                                        + P[i+1][j+1] + R_i R_j, filled from the last row up.
  for (size_t ii = r; ii-- > 1;) {
    for (size_t jj = r; jj-- > ii;) {
      const double next = (ii + 1 < r && jj + 1 < r) ? at(ii + 1, jj + 1) : 0.0;
      const double phi_i = Coef(ar, ii), phi_j = Coef(ar, jj);
      at(ii, jj) = phi_i * phi_j * row[0] + phi_i * first(jj + 1) + phi_j * first(ii + 1) + next +
                   rv(ii) * rv(jj);
      at(jj, ii) = at(ii, jj);
    }
  }
  for (size_t k = 0; k < r; ++k) at(0, k) = at(k, 0) = row[k];
  return true;
}

double KalmanStep(std::span<const double> ar, std::span<const double> ma, double w, bool steady,
                  std::span<double> a, std::span<double> p, std::span<double> scratch, double* v,
                  double* f) {
  const size_t r = a.size();
  double* col = scratch.data() + r * r;  // P e_1 before the update.
  *v = kNaN;
  *f = p[0];
  if (!std::isnan(w)) {
    const double fv = p[0];
    const double innov = w - a[0];
    *v = innov;
    for (size_t i = 0; i < r; ++i) col[i] = p[i * r];
    const double g = innov / fv;
    for (size_t i = 0; i < r; ++i) a[i] += col[i] * g;
    if (!steady) {
      for (size_t i = 0; i < r; ++i) {
        const double ci = col[i] / fv;
        for (size_t j = 0; j < r; ++j) p[i * r + j] -= ci * col[j];
      }
    }
  }
  CompanionTimes(ar, a);
  if (steady) return 0.0;
  // P <- T P T' + R R' (O(r^2) thanks to the companion structure).
  const double p00 = p[0];
  double change = 0;
  for (size_t i = 0; i < r; ++i) {
    const double phi_i = Coef(ar, i);
    const double ri = i == 0 ? 1.0 : Coef(ma, i - 1);
    const double pi0 = i + 1 < r ? p[(i + 1) * r] : 0.0;
    for (size_t j = 0; j < r; ++j) {
      const double phi_j = Coef(ar, j);
      const double rj = j == 0 ? 1.0 : Coef(ma, j - 1);
      const double p0j = j + 1 < r ? p[j + 1] : 0.0;
      const double pij = (i + 1 < r && j + 1 < r) ? p[(i + 1) * r + j + 1] : 0.0;
      scratch[i * r + j] = phi_i * phi_j * p00 + phi_i * p0j + phi_j * pi0 + pij + ri * rj;
    }
  }
  // Change against the predicted P at entry, which is the filtered P plus col col' / F.
  const bool observed = !std::isnan(w);
  for (size_t i = 0; i < r; ++i) {
    const double ci = observed ? col[i] / *f : 0.0;
    for (size_t j = 0; j < r; ++j) {
      const size_t k = i * r + j;
      change = std::max(change, std::abs(scratch[k] - p[k] - ci * col[j]));
      p[k] = scratch[k];
    }
  }
  return change;
}

FilterSums KalmanFilter(std::span<const double> ar, std::span<const double> ma,
                        std::span<const double> w, std::vector<double>* state,
                        std::vector<double>* cov, std::vector<double>* std_resid) {
  FilterSums sums;
  std::vector<double> p;
  if (!StationaryCovariance(ar, ma, &p)) {
    sums.ok = false;
    return sums;
  }
  const size_t r = std::max(ar.size(), ma.size() + 1);
  std::vector<double> a(r, 0.0), scratch(r * r + r);
  if (std_resid != nullptr) std_resid->assign(w.size(), kNaN);
  bool steady = false;
  size_t calm = 0;
  for (size_t t = 0; t < w.size(); ++t) {
    const bool observed = !std::isnan(w[t]);
    if (!observed) {
      steady = false;
      calm = 0;
    }
    double v, f;
    const double change = KalmanStep(ar, ma, w[t], steady, a, p, scratch, &v, &f);
    if (observed) {
      if (!(f > 0) || !std::isfinite(f) || !std::isfinite(v)) {
        sums.ok = false;
        return sums;
      }
      sums.ssq += v * v / f;
      sums.sumlog += std::log(f);
      ++sums.n;
      if (std_resid != nullptr) (*std_resid)[t] = v / std::sqrt(f);
    }
    if (!steady) {
      calm = (observed && change < kSteadyTolerance) ? calm + 1 : 0;
      if (calm >= r) steady = true;
    }
  }
  if (state != nullptr) *state = std::move(a);
  if (cov != nullptr) *cov = std::move(p);
  return sums;
}

FilterSums ChandrasekharFilter(std::span<const double> ar, std::span<const double> ma,
                               std::span<const double> w) {
  FilterSums sums;
  std::vector<double> k;
  if (!StationaryFirstRow(ar, ma, &k)) {
    sums.ok = false;
    return sums;
  }
  const size_t r = k.size();
  // P_1 = stationary P; F_1 = P_1[0][0]; K_1 = T P_1 e_1; Delta P_2 = W_1 M_1 W_1' with W_1 = K_1,
  // M_1 = -1/F_1 (rank one). Recursions (derived in the design note):
  //   F_{t+1} = F_t + M_t w1^2,  K_{t+1} = K_t + T W_t M_t w1,
  //   W_{t+1} = T W_t - K_t w1 / F_t,  M_{t+1} = M_t - M_t^2 w1^2 / F_{t+1},  w1 = W_t[0].
  const SparseCompanion t_op(ar);
  double f = k[0];
  t_op.Apply(k.data(), r);
  std::vector<double> wv(k), a(r, 0.0);
  double m = -1.0 / f;
  bool steady = false;
  for (size_t t = 0; t < w.size(); ++t) {
    if (!(f > 0) || !std::isfinite(f)) {
      sums.ok = false;
      return sums;
    }
    const double v = w[t] - a[0];
    sums.ssq += v * v / f;
    sums.sumlog += std::log(f);
    ++sums.n;
    const double g = v / f;
    t_op.Apply(a.data(), r);
    for (size_t i = 0; i < r; ++i) a[i] += k[i] * g;
    if (steady) continue;
    const double w1 = wv[0];
    t_op.Apply(wv.data(), r);  // wv = T W
    const double mw1 = m * w1, w1f = w1 / f;
    double wmax = 0;
    for (size_t i = 0; i < r; ++i) {
      const double kold = k[i];
      k[i] = kold + wv[i] * mw1;
      wv[i] -= kold * w1f;
      wmax = std::max(wmax, std::abs(wv[i]));
    }
    const double f_new = f + m * w1 * w1;
    m -= m * m * w1 * w1 / f_new;
    f = f_new;
    if (std::abs(m) * wmax * wmax < 1e-14 * f) steady = true;
  }
  if (!std::isfinite(sums.ssq)) sums.ok = false;
  return sums;
}

FilterSums ConditionalSumOfSquares(std::span<const double> ar, std::span<const double> ma,
                                   std::span<const double> w) {
  FilterSums sums;
  const size_t n = w.size();
  const size_t ncond = ar.size();
  // Sparse lags: expanded seasonal polynomials are mostly zeros.
  std::vector<std::pair<size_t, double>> ar_nz, ma_nz;
  for (size_t k = 0; k < ar.size(); ++k) {
    if (ar[k] != 0.0) ar_nz.emplace_back(k + 1, ar[k]);
  }
  for (size_t k = 0; k < ma.size(); ++k) {
    if (ma[k] != 0.0) ma_nz.emplace_back(k + 1, ma[k]);
  }
  std::vector<double> e(n, 0.0);
  for (size_t t = ncond; t < n; ++t) {
    double tmp = w[t];
    for (const auto& [lag, c] : ar_nz) tmp -= c * w[t - lag];
    for (const auto& [lag, c] : ma_nz) {
      if (lag > t) break;
      tmp -= c * e[t - lag];
    }
    if (std::isnan(tmp)) continue;
    e[t] = tmp;
    sums.ssq += tmp * tmp;
    ++sums.n;
  }
  if (!std::isfinite(sums.ssq)) sums.ok = false;
  return sums;
}

double NormalQuantile(double prob) {
  if (!(prob > 0.0 && prob < 1.0)) {
    if (prob == 0.0) return -std::numeric_limits<double>::infinity();
    if (prob == 1.0) return std::numeric_limits<double>::infinity();
    return kNaN;
  }
  const double pl = prob < 0.5 ? prob : 1.0 - prob;
  const double t = std::sqrt(-2.0 * std::log(pl));
  double x = t - (2.515517 + 0.802853 * t + 0.010328 * t * t) /
                     (1.0 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t);
  x = prob < 0.5 ? -x : x;
  // Newton on Phi(x) - prob; Phi(x) = erfc(-x / sqrt 2) / 2.
  for (int it = 0; it < 4; ++it) {
    const double cdf = 0.5 * std::erfc(-x / std::sqrt(2.0));
    const double pdf = std::exp(-0.5 * x * x) / std::sqrt(2.0 * M_PI);
    if (pdf <= 0) break;
    x -= (cdf - prob) / pdf;
  }
  return x;
}

}  // namespace tidegate::forecast::arima_internal
