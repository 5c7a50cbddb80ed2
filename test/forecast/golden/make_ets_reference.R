#!/usr/bin/env Rscript
# Generates test/forecast/golden/ets_reference.json: seeded synthetic series and what R's
# forecast::ets fits to them, the reference for test/forecast/ets_test.cc.
#
#   Rscript test/forecast/golden/make_ets_reference.R   (from the repository root)
#
# Needs Debian's r-cran-forecast and r-cran-jsonlite. For every series: the series itself, its
# period, and two fits with default settings (restrict = TRUE, bounds = "both", opt.crit = "lik"):
#   fixed: ets(y, model = <code>, damped = <d>) — the model the series was generated from;
#   auto:  ets(y) — R's automatic choice by AICc.
# Each records the model name, smoothing parameters, initial states (seasonal values in the order
# they are used: first entry = season of the first observation), log-likelihood, AIC, AICc, BIC,
# sigma2 and the h-step forecast mean with 80 % and 95 % bounds.
suppressPackageStartupMessages({
  library(forecast)
  library(jsonlite)
})

describe <- function(fit, h) {
  comp <- fit$components  # error, trend, season, damped
  par <- fit$par
  get <- function(name, default) if (name %in% names(par)) unname(par[[name]]) else default
  m <- fit$m
  st <- fit$states[1, ]
  seasonal <- if (comp[3] != "N") rev(unname(st[grepl("^s[0-9]+$", names(st))])) else numeric(0)
  fc <- forecast(fit, h = h, level = c(80, 95))
  list(
    method = fit$method,
    error = comp[1], trend = comp[2], season = comp[3], damped = as.logical(comp[4]),
    period = if (comp[3] != "N") m else 1,
    alpha = get("alpha", 0), beta = get("beta", 0), gamma = get("gamma", 0), phi = get("phi", 1),
    level0 = unname(st[["l"]]),
    trend0 = if ("b" %in% names(st)) unname(st[["b"]]) else 0,
    seasonal0 = seasonal,
    loglik = fit$loglik, aic = fit$aic, aicc = fit$aicc, bic = fit$bic, sigma2 = fit$sigma2,
    mean = as.numeric(fc$mean),
    lower80 = as.numeric(fc$lower[, 1]), upper80 = as.numeric(fc$upper[, 1]),
    lower95 = as.numeric(fc$lower[, 2]), upper95 = as.numeric(fc$upper[, 2])
  )
}

cases <- list()
add_case <- function(name, y, period, code, damped, h) {
  yt <- ts(y, frequency = period)
  fixed <- ets(yt, model = code, damped = damped)
  auto <- ets(yt)
  cases[[length(cases) + 1]] <<- list(name = name, y = y, period = period, h = h,
                                      fixed = describe(fixed, h), auto = describe(auto, h))
}

# Additive trend and additive season: ETS(A,A,A), m = 12.
set.seed(101)
n <- 120
t <- 1:n
add_case("additive_trend_season", 50 + 0.5 * t + 10 * sin(2 * pi * t / 12) + rnorm(n, sd = 1.5),
         12, "AAA", FALSE, 24)

# Multiplicative season on a rising level with multiplicative noise: ETS(M,A,M), m = 12.
set.seed(202)
n <- 144
t <- 1:n
add_case("multiplicative_season",
         (200 + 0.8 * t) * (1 + 0.35 * sin(2 * pi * t / 12)) * (1 + rnorm(n, sd = 0.03)),
         12, "MAM", FALSE, 24)

# Damped trend, simulated from ETS(A,Ad,N) with alpha 0.4, beta 0.15, phi 0.9.
set.seed(303)
n <- 100
l <- 100; b <- 3
y <- numeric(n)
for (i in 1:n) {
  e <- rnorm(1, sd = 1)
  y[i] <- l + 0.9 * b + e
  l_new <- l + 0.9 * b + 0.4 * e
  b <- 0.9 * b + 0.15 * e
  l <- l_new
}
add_case("damped_trend", y, 1, "AAN", TRUE, 12)

# A noisy level: local level (random walk plus noise), ETS(A,N,N).
set.seed(404)
n <- 200
add_case("noisy_level", 500 + cumsum(rnorm(n, sd = 1)) + rnorm(n, sd = 3), 1, "ANN", FALSE, 12)

# Hourly-like: two weeks with a daily cycle (m = 24), positive, multiplicative noise.
set.seed(505)
n <- 336
t <- 1:n
add_case("hourly_daily_cycle",
         1000 * (1 + 0.4 * sin(2 * pi * t / 24) + 0.15 * cos(4 * pi * t / 24)) *
           exp(rnorm(n, sd = 0.04)),
         24, "MNM", FALSE, 48)

out <- file.path(dirname(sub("^--file=", "",
                             grep("^--file=", commandArgs(FALSE), value = TRUE))),
                 "ets_reference.json")
writeLines(toJSON(list(generator = "test/forecast/golden/make_ets_reference.R",
                       r_version = R.version.string,
                       forecast_version = as.character(packageVersion("forecast")),
                       cases = cases),
                  digits = NA, auto_unbox = TRUE, na = "null", pretty = FALSE), out)
cat("wrote", out, "\n")
