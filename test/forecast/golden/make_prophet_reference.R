#!/usr/bin/env Rscript
# Generates test/forecast/golden/prophet_reference.json: deterministic synthetic hourly series and
# what R's prophet package (Debian r-cran-prophet 1.0, Stan L-BFGS MAP) fits to them, the reference
# for test/forecast/prophet_test.cc.
#
#   Rscript test/forecast/golden/make_prophet_reference.R   (from the repository root)
#
# Needs Debian's r-cran-prophet and r-cran-jsonlite. Settings match tidegate's defaults: 25
# changepoints in the first 80 %, changepoint prior 0.05, seasonality prior 10, linear growth,
# additive seasonalities given explicitly (period in days, Fourier order), no holidays. For every
# series: the values, the seasonalities, and the 48-step point forecast (yhat) and trend.
suppressPackageStartupMessages({
  library(prophet)
  library(jsonlite)
})

# The 32-bit LCG of the C++ tests, as uniform noise in [-0.5, 0.5).
lcg_noise <- function(n, seed) {
  out <- numeric(n)
  state <- seed
  for (i in seq_len(n)) {
    state <- (state * 1664525 + 1013904223) %% 4294967296
    out[i] <- floor(state / 256) / 16777216 - 0.5
  }
  out
}

cases <- list()
start <- as.POSIXct("2024-01-01 00:00:00", tz = "UTC")

add_case <- function(name, y, seasons) {
  n <- length(y)
  ds <- start + 3600 * (0:(n - 1))
  m <- prophet(yearly.seasonality = FALSE, weekly.seasonality = FALSE, daily.seasonality = FALSE,
               uncertainty.samples = 0)
  for (s in seasons) {
    m <- add_seasonality(m, name = paste0("p", s[1]), period = s[1] / 24, fourier.order = s[2])
  }
  m <- fit.prophet(m, data.frame(ds = ds, y = y))
  future <- data.frame(ds = start + 3600 * (n:(n + 47)))
  fc <- predict(m, future)
  cases[[length(cases) + 1]] <<- list(
    name = name, values = y, seasonalities = lapply(seasons, function(s) s),
    yhat = fc$yhat, trend = fc$trend, k = m$params$k[1], m = m$params$m[1],
    sigma_obs = m$params$sigma_obs[1], y_scale = m$y.scale)
}

t <- 0:(24 * 28 - 1)
noise <- lcg_noise(length(t), 7)
add_case("daily_trend_break",
         100 + 0.05 * t + ifelse(t > 300, 0.15 * (t - 300), 0) + 10 * sin(2 * pi * t / 24) +
           4 * noise, list(c(24, 10)))
noise <- lcg_noise(length(t), 11)
add_case("daily_weekly",
         50 + 6 * sin(2 * pi * t / 24) + 3 * cos(4 * pi * t / 24) + 5 * sin(2 * pi * t / 168) +
           2 * noise, list(c(24, 10), c(168, 5)))

writeLines(toJSON(cases, digits = NA, auto_unbox = TRUE, pretty = FALSE),
           "test/forecast/golden/prophet_reference.json")
