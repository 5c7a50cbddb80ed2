#!/usr/bin/env Rscript
# Generates test/forecast/golden/arima_reference.json: seeded synthetic series and what R's
# forecast package fits to them, the reference for test/forecast/arima_test.cc.
#
#   Rscript test/forecast/golden/make_arima_reference.R   (from the repository root)
#
# Needs Debian's r-cran-forecast and r-cran-jsonlite. For every series: the series itself, a fixed
# order fitted with forecast::Arima(method = "ML") — coefficients, log-likelihood, sigma2 (ML, from
# stats::arima, and the unbiased one forecast::Arima reports), AICc — its 24-step forecasts with
# 95 % bounds, and the order auto.arima chooses (default settings).
suppressPackageStartupMessages({
  library(forecast)
  library(jsonlite)
})

cases <- list()

add_case <- function(name, y, order, seasonal = c(0, 0, 0), period = 1, include_mean = FALSE,
                     include_drift = FALSE) {
  yt <- ts(y, frequency = period)
  fit <- Arima(yt, order = order, seasonal = list(order = seasonal, period = period),
               include.mean = include_mean, include.drift = include_drift, method = "ML")
  xreg <- if (include_drift) matrix(seq_along(y), ncol = 1) else NULL
  sfit <- stats::arima(yt, order = order, seasonal = list(order = seasonal, period = period),
                       include.mean = include_mean, xreg = xreg, method = "ML")
  fc <- forecast(fit, h = 24, level = 95)
  auto <- auto.arima(yt)
  a <- auto$arma  # p, q, P, Q, m, d, D
  auto_const <- any(names(coef(auto)) %in% c("intercept", "drift"))
  cases[[length(cases) + 1]] <<- list(
    name = name,
    y = ifelse(is.na(y), NA, y),
    period = period,
    order = list(p = order[1], d = order[2], q = order[3], P = seasonal[1], D = seasonal[2],
                 Q = seasonal[3], constant = include_mean || include_drift),
    coef_names = I(names(coef(fit))),
    coef = I(unname(coef(fit))),
    loglik = fit$loglik,
    sigma2 = fit$sigma2,
    sigma2_ml = sfit$sigma2,
    aicc = fit$aicc,
    mean = as.numeric(fc$mean),
    lower95 = as.numeric(fc$lower),
    upper95 = as.numeric(fc$upper),
    auto = list(p = a[1], d = a[6], q = a[2], P = a[3], D = a[7], Q = a[4],
                constant = auto_const, spec = as.character(auto))
  )
}

set.seed(20261129)
add_case("ar1_mean", 10 + arima.sim(list(ar = 0.7), n = 200), c(1, 0, 0), include_mean = TRUE)

set.seed(42)
add_case("arma11", as.numeric(arima.sim(list(ar = 0.5, ma = 0.4), n = 250)), c(1, 0, 1))

set.seed(7)
y <- 50 + as.numeric(arima.sim(list(ar = c(0.5, -0.3)), n = 300))
y[c(20, 21, 100, 205, 206, 207)] <- NA
add_case("ar2_missing", y, c(2, 0, 0), include_mean = TRUE)

set.seed(11)
add_case("rw_drift", 100 + cumsum(0.5 + rnorm(150)), c(0, 1, 0), include_drift = TRUE)

set.seed(3)

# Airline-type: (0,1,1)(0,1,1)[12], simulated by integrating seasonal MA noise.
e <- rnorm(216)
u <- e[13:216] - 0.6 * e[1:204]          # (1 - 0.6 B^12) e
v <- u[2:204] - 0.4 * u[1:203]           # (1 - 0.4 B)
w <- stats::filter(v, c(rep(0, 11), 1), method = "recursive")  # 1 / (1 - B^12)
y <- 200 + cumsum(as.numeric(w))
add_case("airline12", y[1:180], c(0, 1, 1), seasonal = c(0, 1, 1), period = 12)

set.seed(24)
n <- 480
season <- 10 * sin(2 * pi * (1:n) / 24) + 4 * cos(4 * pi * (1:n) / 24)
y <- 100 + season + as.numeric(arima.sim(list(ar = 0.6), n = n, sd = 2))
add_case("hourly24", y, c(1, 0, 0), seasonal = c(0, 1, 1), period = 24)

out <- file.path(dirname(sub("^--file=", "",
                             grep("^--file=", commandArgs(FALSE), value = TRUE))),
                 "arima_reference.json")
writeLines(toJSON(list(generator = "test/forecast/golden/make_arima_reference.R",
                       r_version = R.version.string,
                       forecast_version = as.character(packageVersion("forecast")),
                       cases = cases),
                  digits = NA, auto_unbox = TRUE, na = "null", pretty = FALSE), out)
cat("wrote", out, "\n")
