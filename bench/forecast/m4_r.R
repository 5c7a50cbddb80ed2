#!/usr/bin/env Rscript
# Runs R forecast's auto.arima and ets (and prophet when installed) on the M4 hourly split and
# scores them exactly as tidegate's metrics.h does (M4 definitions, 95 % intervals).
#
#   Rscript bench/forecast/m4_r.R DATA_DIR [models=auto.arima,ets] [limit=0] [out.csv] [shard=K/N]
#   Rscript bench/forecast/m4_r.R --summarise out1.csv [out2.csv ...] [--tidegate backtest.csv]
#
# Prints one line per model: name, series, sMAPE, MASE, OWA (vs the official Naive2 18.383 / 2.395),
# MSIS, coverage, fit+forecast seconds (wall) and CPU seconds (user + system of this process).
# Writes per-series rows (with both times) to out.csv when given, one row as each series is done
# (a run over all 414 series takes hours of R time: the file shows how far it is). With shard K/N
# the run takes every N-th series starting at the K-th (1-based), so N processes share the cores;
# --summarise prints the same table from the per-series rows of one or more such files.
args <- commandArgs(trailingOnly = TRUE)
table_header <- function() {
  cat(sprintf("%-12s %6s %8s %8s %8s %8s %8s %10s %10s\n", "model", "series", "sMAPE", "MASE", "OWA",
              "MSIS", "cover", "seconds", "cpu"))
}
table_row <- function(model, smape, mase, msis, coverage, seconds, cpu) {
  owa <- 0.5 * (mean(smape) / 18.383 + mean(mase) / 2.395)
  cat(sprintf("%-12s %6d %8.3f %8.3f %8.3f %8.3f %8.3f %10.2f %10.2f\n", paste0("R:", model),
              length(smape), mean(smape), mean(mase), owa, mean(msis), mean(coverage), sum(seconds),
              sum(cpu)))
}
if (length(args) >= 2 && args[1] == "--summarise") {
  files <- args[-1]
  tg_file <- ""
  if (length(files) >= 2 && files[length(files) - 1] == "--tidegate") {
    tg_file <- files[length(files)]
    files <- head(files, -2)
  }
  rows <- do.call(rbind, lapply(files, read.csv, stringsAsFactors = FALSE))
  table_header()
  for (model in unique(rows$model)) {
    r <- rows[rows$model == model, ]
    table_row(model, r$smape, r$mase, r$msis, r$coverage, r$seconds, r$cpu_seconds)
  }
  if (nchar(tg_file) > 0) {
    # tidegate's per-series rows (tidegate backtest --out) on the same series as the first model,
    # so that a run over part of the series compares like with like.
    tg <- read.csv(tg_file, stringsAsFactors = FALSE)
    for (model in unique(rows$model)) {
      ids <- rows$id[rows$model == model]
      t <- tg[tg$id %in% ids, ]
      if (nrow(t) != length(ids)) stop(paste(tg_file, "lacks some of the series of", model))
      cat(sprintf("%-12s %6d %8.3f %8.3f %8.3f %8.3f %8.3f %10.2f %10s   (on %s's series)\n",
                  paste0("tidegate:", t$model[1]), nrow(t), mean(t$smape), mean(t$mase),
                  0.5 * (mean(t$smape) / 18.383 + mean(t$mase) / 2.395), mean(t$msis),
                  mean(t$coverage), sum(t$seconds), "-", model))
    }
  }
  quit(save = "no")
}
suppressMessages(library(forecast))

if (length(args) < 1) stop("usage: m4_r.R DATA_DIR [models] [limit] [out.csv]")
data_dir <- args[1]
models <- if (length(args) >= 2) strsplit(args[2], ",")[[1]] else c("auto.arima", "ets")
limit <- if (length(args) >= 3) as.integer(args[3]) else 0L
out_csv <- if (length(args) >= 4) args[4] else ""
shard <- if (length(args) >= 5) as.integer(strsplit(args[5], "/")[[1]]) else c(1L, 1L)
if (length(shard) != 2 || anyNA(shard) || shard[2] < 1 || shard[1] < 1 || shard[1] > shard[2]) {
  stop(paste("shard must be K/N with 1 <= K <= N, got", args[5]))
}

read_m4 <- function(path) {
  raw <- read.csv(path, header = TRUE, stringsAsFactors = FALSE)
  ids <- raw[[1]]
  vals <- lapply(seq_len(nrow(raw)), function(i) {
    v <- as.numeric(raw[i, -1])
    v[!is.na(v)]
  })
  names(vals) <- ids
  vals
}
train <- read_m4(file.path(data_dir, "Train", "Hourly-train.csv"))
test <- read_m4(file.path(data_dir, "Test", "Hourly-test.csv"))
ids <- names(train)
if (limit > 0) ids <- head(ids, limit)
ids <- ids[seq(shard[1], length(ids), by = shard[2])]

m <- 24; h <- 48; alpha <- 0.05
smape <- function(y, f) mean(ifelse(abs(y) + abs(f) > 0, 200 * abs(y - f) / (abs(y) + abs(f)), 0))
scale_of <- function(x) mean(abs(x[(m + 1):length(x)] - x[1:(length(x) - m)]))
msis <- function(y, l, u, s) mean((u - l) + (2 / alpha) * (l - y) * (y < l) + (2 / alpha) * (y - u) * (y > u)) / s

fit_forecast <- function(model, x) {
  xt <- ts(x, frequency = m)
  if (model == "auto.arima") {
    fc <- forecast(auto.arima(xt), h = h, level = 95)
  } else if (model == "ets") {
    fc <- forecast(ets(xt), h = h, level = 95)
  } else if (model == "prophet") {
    suppressMessages(library(prophet))
    df <- data.frame(ds = as.POSIXct("2000-01-01", tz = "UTC") + 3600 * (seq_along(x) - 1), y = x)
    fit <- prophet(df, daily.seasonality = TRUE, weekly.seasonality = TRUE,
                   yearly.seasonality = FALSE, interval.width = 0.95)
    fut <- make_future_dataframe(fit, periods = h, freq = 3600, include_history = FALSE)
    p <- predict(fit, fut)
    return(list(mean = p$yhat, lower = p$yhat_lower, upper = p$yhat_upper))
  } else {
    stop(paste("unknown model", model))
  }
  list(mean = as.numeric(fc$mean), lower = as.numeric(fc$lower[, 1]),
       upper = as.numeric(fc$upper[, 1]))
}

if (nchar(out_csv) > 0) {
  cat("model,id,smape,mase,msis,coverage,seconds,cpu_seconds\n", file = out_csv)
}
table_header()
cpu_now <- function() { p <- proc.time(); p[["user.self"]] + p[["sys.self"]] }
for (model in models) {
  s1 <- s2 <- s3 <- s4 <- seconds <- cpu <- numeric(0)
  for (id in ids) {
    x <- train[[id]]; y <- test[[id]][1:h]
    t0 <- proc.time()[["elapsed"]]; c0 <- cpu_now()
    f <- fit_forecast(model, x)
    dt <- proc.time()[["elapsed"]] - t0; dc <- cpu_now() - c0
    seconds <- c(seconds, dt); cpu <- c(cpu, dc)
    sc <- scale_of(x)
    r <- c(smape(y, f$mean), mean(abs(y - f$mean)) / sc, msis(y, f$lower, f$upper, sc),
           mean(y >= f$lower & y <= f$upper))
    s1 <- c(s1, r[1]); s2 <- c(s2, r[2]); s3 <- c(s3, r[3]); s4 <- c(s4, r[4])
    if (nchar(out_csv) > 0) {
      cat(sprintf("%s,%s,%.17g,%.17g,%.17g,%.17g,%.6f,%.6f\n", model, id, r[1], r[2], r[3], r[4],
                  dt, dc), file = out_csv, append = TRUE)
    }
  }
  table_row(model, s1, s2, s3, s4, seconds, cpu)
}
