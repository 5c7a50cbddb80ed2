// Simulator: trace parsing and its errors, the server model (latency, timeouts), accounting
// identities for every policy, and priority under overload on small generated traces.
#include "tidegate/sim/simulator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "fmt/format.h"

namespace tidegate::sim {
namespace {

using testing::HasSubstr;

constexpr int kReq = static_cast<int>(plan::Resource::kRequests);
constexpr int kCpu = static_cast<int>(plan::Resource::kCpuMs);

void ExpectParseError(std::string_view text, std::string_view substring) {
  auto t = ParseTrace(text, "t.csv", 1);
  ASSERT_FALSE(t.ok()) << "accepted; expected " << substring;
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(t.status().message()), HasSubstr(std::string(substring)));
}

TEST(TraceTest, ParsesPerRequestRowsSorted) {
  auto t = ParseTrace("time_s,class,tier,cost\n2.5,b,1,3\n1,a,0,7\r\n# comment\n\n3,a,0,1\n",
                      "t.csv", 1);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->classes.size(), 2u);
  EXPECT_EQ(t->classes[0].name, "b");
  EXPECT_EQ(t->classes[0].tier, 1);
  ASSERT_EQ(t->arrivals.size(), 3u);
  EXPECT_EQ(t->arrivals[0].time_s, 1);
  EXPECT_EQ(t->arrivals[0].cost, 7);
  EXPECT_EQ(t->arrivals[2].time_s, 3);
  EXPECT_EQ(t->end_s, 3);
}

TEST(TraceTest, PerIntervalRatesGiveSeededPoissonArrivals) {
  const std::string text = "time_s,class,tier,rate_per_s,cost,interval_s\n0,a,0,200,1,10\n";
  auto t1 = ParseTrace(text, "t.csv", 7);
  auto t2 = ParseTrace(text, "t.csv", 7);
  ASSERT_TRUE(t1.ok()) << t1.status();
  EXPECT_NEAR(static_cast<double>(t1->arrivals.size()), 2000, 4 * std::sqrt(2000.0));
  ASSERT_EQ(t1->arrivals.size(), t2->arrivals.size());
  EXPECT_EQ(t1->arrivals[5].time_s, t2->arrivals[5].time_s);
  EXPECT_EQ(t1->end_s, 10);
}

TEST(TraceTest, MalformedRowsNameFileLineAndReason) {
  ExpectParseError("time_s,class,tier\n", "t.csv:1: header has no 'cost' column");
  ExpectParseError("time_s,class,tier,cost\n1,a,0,1\n2,a,0,abc\n",
                   "t.csv:3: column 'cost': 'abc' is not a finite number");
  ExpectParseError("time_s,class,tier,cost\n1,a,0\n", "t.csv:2: 3 fields, header has 4");
  ExpectParseError("time_s,class,tier,cost\n-1,a,0,1\n",
                   "t.csv:2: column 'time_s': -1 is negative");
  ExpectParseError("time_s,class,tier,cost\n1,a,7,1\n",
                   "t.csv:2: column 'tier': 7 is not an integer in [0, 4)");
  ExpectParseError("time_s,class,tier,cost\n1,a,0,1\n2,a,1,1\n",
                   "t.csv:3: class 'a' has tier 1 here but tier 0 earlier");
  ExpectParseError("time_s,class,tier,cost\n1,,0,1\n", "t.csv:2: column 'class': empty");
  ExpectParseError("", "t.csv: empty trace");
  EXPECT_EQ(LoadTrace("/nonexistent/trace.csv", 1).status().code(), absl::StatusCode::kNotFound);
}

TEST(TraceTest, KnownCostIsThePartOfTheCostKnownAtAdmission) {
  auto t = ParseTrace("time_s,class,tier,cost,known_cost\n1,a,0,10,7\n2,a,0,4,4\n3,b,1,5,0\n",
                      "t.csv", 1);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->arrivals.size(), 3u);
  EXPECT_EQ(t->arrivals[0].cost, 10);
  EXPECT_EQ(t->arrivals[0].unknown_cost, 3);
  EXPECT_EQ(t->arrivals[1].unknown_cost, 0);
  EXPECT_EQ(t->arrivals[2].unknown_cost, 5);
  // Without the column the whole cost is known.
  auto all = ParseTrace("time_s,class,tier,cost\n1,a,0,10\n", "t.csv", 1);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->arrivals[0].unknown_cost, 0);
  // Per interval: every request of the row has the row's known part.
  auto iv = ParseTrace("time_s,class,tier,rate_per_s,cost,known_cost\n0,a,0,50,8,6\n", "t.csv", 1);
  ASSERT_TRUE(iv.ok()) << iv.status();
  ASSERT_FALSE(iv->arrivals.empty());
  EXPECT_EQ(iv->arrivals[0].unknown_cost, 2);

  const std::string h = "time_s,class,tier,cost,known_cost\n";
  ExpectParseError(h + "1,a,0,10,7\n2,a,0,3,5\n",
                   "t.csv:3: column 'known_cost': 5 exceeds the cost 3");
  ExpectParseError(h + "1,a,0,10,x\n", "t.csv:2: column 'known_cost': 'x' is not a finite number");
  ExpectParseError(h + "1,a,0,10,-2\n", "t.csv:2: column 'known_cost': -2 is negative");
  ExpectParseError(h + "1,a,0,10,nan\n", "t.csv:2: column 'known_cost': 'nan' is not a finite");
  ExpectParseError(h + "1,a,0,10\n", "t.csv:2: 4 fields, header has 5");
}

SimConfig RequestsCapacity(double per_s) {
  SimConfig c;
  c.capacity[kReq] = per_s;
  return c;
}

TEST(SimulatorTest, FifoServerLatencyIsWaitPlusService) {
  // Five requests at t = 0 on a 10 requests/s server: latencies 0.1 … 0.5 s.
  Trace t;
  t.classes = {{"a", 0}};
  for (int i = 0; i < 5; ++i) t.arrivals.push_back({0, 0, 1});
  t.arrivals.push_back({20, 0, 1});
  t.end_s = 20;
  SimConfig c = RequestsCapacity(10);
  auto r = Simulate(t, c, PolicyKind::kStatic);  // Trained on the whole trace: peak 5/s.
  ASSERT_TRUE(r.ok()) << r.status();
  const Metrics& m = r->classes[0];
  EXPECT_EQ(m.offered, 6);
  EXPECT_EQ(m.admitted, 6);
  EXPECT_EQ(m.completed, 6);
  EXPECT_NEAR(m.p50_s, 0.3, 1e-9);
  EXPECT_NEAR(m.p99_s, 0.5, 1e-9);
  // Busy time inside the test period [0, 20): the request at t = 20 is served after its end.
  EXPECT_NEAR(r->utilisation, 5 * 0.1 / 20, 1e-9);
}

TEST(SimulatorTest, CostUsesTheBottleneckResourceAndQueueTimesOut) {
  Trace t;
  t.classes = {{"a", 0}};
  for (int i = 0; i < 10; ++i) t.arrivals.push_back({0, 0, 100});  // 100 cpu_ms each.
  t.arrivals.push_back({60, 0, 1});
  t.end_s = 60;
  SimConfig c;
  c.capacity[kCpu] = 100;  // 1 s of service per request.
  c.capacity[kReq] = 1000;
  c.timeout_s = 3.5;
  c.slo_s = 2.5;
  auto r = Simulate(t, c, PolicyKind::kStatic);
  ASSERT_TRUE(r.ok()) << r.status();
  const Metrics& m = r->classes[0];
  EXPECT_EQ(m.admitted, 11);
  EXPECT_EQ(m.timed_out, 6);  // Waits 4 … 9 s exceed 3.5 s.
  EXPECT_EQ(m.completed, 5);
  EXPECT_EQ(m.good, 3);  // Latencies 1, 2 (and 0.01 at t = 60) within 2.5 s; 3 and 4 are not.
  EXPECT_EQ(m.slo_violation_s, 1);
}

// Two classes, tier 0 and tier 1, each at `rate` requests/s with a step up half-way.
Trace TwoTiers(double rate, double seconds, uint64_t seed) {
  std::string csv = "time_s,class,tier,rate_per_s,cost\n";
  for (int s = 0; s < seconds; ++s) {
    const double k = s > seconds * 0.75 ? 1.5 : 1.0;
    csv += fmt::format("{},critical,0,{},1\n{},batch,1,{},1\n", s, rate * k, s, rate * k);
  }
  auto t = ParseTrace(csv, "gen", seed);
  EXPECT_TRUE(t.ok()) << t.status();
  return *t;
}

TEST(SimulatorTest, AccountingHoldsForEveryPolicy) {
  const Trace t = TwoTiers(40, 400, 3);
  SimConfig c = RequestsCapacity(70);
  c.warmup_s = 200;
  for (PolicyKind p : {PolicyKind::kStatic, PolicyKind::kAimd, PolicyKind::kGradient,
                       PolicyKind::kPredictive, PolicyKind::kOracle}) {
    SCOPED_TRACE(PolicyName(p));
    auto r = Simulate(t, c, p);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->policy, PolicyName(p));
    for (const Metrics& m : r->classes) {
      EXPECT_EQ(m.admitted + m.rejected, m.offered);
      EXPECT_EQ(m.completed + m.timed_out, m.admitted);
      EXPECT_LE(m.good, m.completed);
      EXPECT_LE(m.p50_s, m.p99_s);
      EXPECT_LE(m.p99_s, m.p999_s);
    }
    EXPECT_EQ(r->total.offered, r->classes[0].offered + r->classes[1].offered);
    EXPECT_LE(r->utilisation, 1 + 1e-9);
    ASSERT_EQ(r->tiers.size(), 2u);
    EXPECT_EQ(r->series[0].size(), 40u);
  }
}

TEST(SimulatorTest, PlannerProtectsTheCriticalTierUnderOverload) {
  // 80 + 80 (then 120 + 120) requests/s on a 100/s server.
  const Trace t = TwoTiers(80, 400, 5);
  SimConfig c = RequestsCapacity(100);
  c.warmup_s = 200;
  for (PolicyKind p : {PolicyKind::kOracle, PolicyKind::kPredictive}) {
    SCOPED_TRACE(PolicyName(p));
    auto r = Simulate(t, c, p);
    ASSERT_TRUE(r.ok()) << r.status();
    const Metrics& critical = r->tiers[0];
    const Metrics& batch = r->tiers[1];
    EXPECT_LT(critical.rejected * 5, batch.rejected) << FormatTable({*r});
    EXPECT_GT(critical.goodput_per_s, 70) << FormatTable({*r});
  }
}

TEST(SimulatorTest, BorrowingLendsWhatTheCriticalTierLeavesToTheLowerTier) {
  // 30 critical + 60 batch requests/s on an 80/s server: the planner holds capacity for the
  // critical tier's upper forecast plus margin, which the batch tier may borrow while unused.
  std::string csv = "time_s,class,tier,rate_per_s,cost\n";
  for (int s = 0; s < 400; ++s) csv += fmt::format("{},critical,0,30,1\n{},batch,1,60,1\n", s, s);
  auto t = ParseTrace(csv, "gen", 4);
  ASSERT_TRUE(t.ok()) << t.status();
  SimConfig c = RequestsCapacity(80);
  c.warmup_s = 200;
  c.slo_s = 0.5;
  c.timeout_s = 2;
  c.borrow_horizon_s = 0;
  auto without = Simulate(*t, c, PolicyKind::kPredictive);
  ASSERT_TRUE(without.ok()) << without.status();
  c.borrow_horizon_s = -1;  // The SLO.
  auto with = Simulate(*t, c, PolicyKind::kPredictive);
  ASSERT_TRUE(with.ok()) << with.status();
  const std::string table = FormatTable({*without, *with});
  EXPECT_EQ(without->total.borrowed, 0);
  EXPECT_GT(with->tiers[1].borrowed, 0) << table;
  EXPECT_GT(with->tiers[1].good, without->tiers[1].good) << table;
  EXPECT_GT(with->total.good, without->total.good) << table;
  // The critical tier keeps its requests and its latency objective.
  EXPECT_LE(with->tiers[0].rejected, without->tiers[0].rejected) << table;
  EXPECT_LE(with->tiers[0].p99_s, c.slo_s) << table;
  EXPECT_EQ(with->total.timed_out, 0) << table;
}

// Two tiers of requests whose known part is small (10) or large (200), 20 % large, plus an
// unknown part uniform in [0, 40] (an LLM request's prompt tokens and generated tokens), on a
// cpu_ms capacity of `capacity` per second.
Trace PartlyKnownCosts(uint64_t seed, bool unknown_declared_unknown) {
  std::mt19937_64 rng(seed);
  Trace t;
  t.classes = {{"critical", 0}, {"batch", 1}};
  std::exponential_distribution<double> gap(9);
  std::uniform_real_distribution<double> u(0, 1);
  for (double time = gap(rng); time < 400; time += gap(rng)) {
    const int32_t cls = u(rng) < 1.0 / 3 ? 0 : 1;
    const double known = u(rng) < 0.2 ? 200 : 10;
    const double unknown = std::floor(40 * u(rng));
    t.arrivals.push_back({time, cls, known + unknown, unknown_declared_unknown ? unknown : 0});
  }
  t.end_s = 400;
  return t;
}

TEST(SimulatorTest, DeclaredCostIsTheKnownPartPlusTheClasssLearnedEstimate) {
  SimConfig c;
  c.capacity[kCpu] = 450;
  c.warmup_s = 200;
  c.slo_s = 1;
  c.timeout_s = 4;
  // Nothing unknown: the declaration is the whole cost, the same run as foresight.
  const Trace known = PartlyKnownCosts(21, false);
  c.borrow_cost = BorrowCost::kDeclared;
  auto declared = Simulate(known, c, PolicyKind::kPredictive);
  c.borrow_cost = BorrowCost::kForesight;
  auto foresight = Simulate(known, c, PolicyKind::kPredictive);
  ASSERT_TRUE(declared.ok() && foresight.ok());
  EXPECT_EQ(declared->total.good, foresight->total.good);
  EXPECT_EQ(declared->total.borrowed, foresight->total.borrowed);
  EXPECT_EQ(declared->tiers[0].rejected, foresight->tiers[0].rejected);

  // The unknown part is learned from completions: the declaration tells large requests from
  // small ones, as foresight does and the class's mean cost cannot.
  const Trace partly = PartlyKnownCosts(21, true);
  std::vector<SimResult> runs;
  for (BorrowCost b : {BorrowCost::kForesight, BorrowCost::kDeclared, BorrowCost::kClassMean}) {
    c.borrow_cost = b;
    auto r = Simulate(partly, c, PolicyKind::kPredictive);
    ASSERT_TRUE(r.ok()) << r.status();
    r->policy = BorrowCostName(b);
    runs.push_back(*r);
  }
  const std::string table = FormatTable(runs);
  EXPECT_EQ(runs[0].total.good, foresight->total.good) << table;  // Same trace costs.
  EXPECT_GT(runs[1].total.good, runs[2].total.good) << table;
  EXPECT_GE(runs[1].total.good, 0.98 * runs[0].total.good) << table;
  // The class mean lets critical requests in behind large ones that finish late.
  EXPECT_GT(runs[1].tiers[0].good, runs[2].tiers[0].good) << table;
}

// Exhaustive optimum: the largest subset of test-period arrivals that the FIFO server completes
// within the SLO (and without timing out).
int64_t BruteForceBest(const Trace& t, const SimConfig& c) {
  const size_t n = t.arrivals.size();
  int64_t best = 0;
  for (uint32_t mask = 0; mask < (1u << n); ++mask) {
    double busy = 0;
    int64_t good = 0;
    bool ok = true;
    for (size_t i = 0; i < n && ok; ++i) {
      if (!(mask & (1u << i))) continue;
      const Arrival& a = t.arrivals[i];
      if (a.time_s < c.warmup_s) {
        ok = false;
        break;
      }
      const double start = std::max(a.time_s, busy);
      const double s = ServiceSeconds(t, c, a);
      const double wait = start - a.time_s;
      if (wait > c.timeout_s || wait + s > c.slo_s) ok = false;
      busy = start + s;
      ++good;
    }
    if (ok) best = std::max(best, good);
  }
  return best;
}

// Random arrivals of two tiers with costs 1 … 5 on a cpu_ms capacity of 10/s.
Trace RandomTrace(std::mt19937_64& rng, size_t n, double span_s) {
  Trace t;
  t.classes = {{"critical", 0}, {"batch", 1}};
  std::uniform_real_distribution<double> time(0, span_s), cost(1, 5);
  for (size_t i = 0; i < n; ++i) {
    t.arrivals.push_back({time(rng), static_cast<int32_t>(rng() % 2), std::floor(cost(rng))});
  }
  std::sort(t.arrivals.begin(), t.arrivals.end(),
            [](const Arrival& a, const Arrival& b) { return a.time_s < b.time_s; });
  t.end_s = span_s;
  return t;
}

TEST(OracleTest, AdmitsAsManyOnTimeRequestsAsTheExhaustiveOptimum) {
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 300; ++trial) {
    SCOPED_TRACE(fmt::format("trial {} (seed 11)", trial));
    const Trace t = RandomTrace(rng, 4 + rng() % 9, 1 + static_cast<double>(rng() % 4));
    SimConfig c;
    c.capacity[kCpu] = 10;
    c.slo_s = 0.3 + 0.1 * static_cast<double>(rng() % 8);
    c.timeout_s = c.slo_s + static_cast<double>(rng() % 2);
    const std::vector<bool> admit = OracleAdmissions(t, c);
    int64_t count = std::count(admit.begin(), admit.end(), true);
    ASSERT_EQ(count, BruteForceBest(t, c));
    // And the simulator, replaying that set, finds every one of them on time.
    auto r = Simulate(t, c, PolicyKind::kOracle);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->total.good, count);
    EXPECT_EQ(r->total.admitted, count);
  }
}

TEST(OracleTest, NoPolicyHasMoreGoodputThanTheOracle) {
  // Generated two-tier traces (Poisson, with a rise), with and without a background load, at
  // capacities below, near and above the demand.
  for (uint64_t seed : {1, 2, 3}) {
    for (double capacity : {50.0, 80.0, 110.0}) {
      for (bool background : {false, true}) {
        SCOPED_TRACE(
            fmt::format("seed {}, capacity {}, background {}", seed, capacity, background));
        Trace t = TwoTiers(40, 300, seed);
        if (background) {
          for (int s = 0; s < 300; s += 20) t.background.push_back({double(s), 0.05 * (s % 7)});
        }
        SimConfig c = RequestsCapacity(capacity);
        c.warmup_s = 150;
        c.slo_s = 0.5;
        c.timeout_s = 2;
        auto oracle = Simulate(t, c, PolicyKind::kOracle);
        ASSERT_TRUE(oracle.ok()) << oracle.status();
        EXPECT_EQ(oracle->total.good, oracle->total.admitted);
        for (PolicyKind p : {PolicyKind::kStatic, PolicyKind::kAimd, PolicyKind::kGradient,
                             PolicyKind::kPredictive}) {
          auto r = Simulate(t, c, p);
          ASSERT_TRUE(r.ok()) << r.status();
          EXPECT_LE(r->total.good, oracle->total.good) << PolicyName(p) << "\n"
                                                       << FormatTable({*r, *oracle});
        }
      }
    }
  }
}

TEST(BackgroundTest, SlowsServiceAndParsesWithErrors) {
  auto b = ParseBackground("time_s,fraction\n10,0.5\n0,0.25\n# c\n", "bg.csv");
  ASSERT_TRUE(b.ok()) << b.status();
  Trace t;
  t.classes = {{"a", 0}};
  t.background = *b;
  EXPECT_EQ(BackgroundAt(t, 5), 0.25);
  EXPECT_EQ(BackgroundAt(t, 10), 0.5);
  SimConfig c = RequestsCapacity(10);
  EXPECT_NEAR(ServiceSeconds(t, c, {12, 0, 1}), 0.2, 1e-12);  // 0.1 s / (1 - 0.5).
  auto expect_error = [](std::string_view text, std::string_view substring) {
    auto r = ParseBackground(text, "bg.csv");
    ASSERT_FALSE(r.ok()) << "accepted; expected " << substring;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(std::string(substring)));
  };
  expect_error("time_s,load\n", "bg.csv:1: header needs the columns time_s and fraction");
  expect_error("time_s,fraction\n0,1\n", "bg.csv:2: column 'fraction': 1 is outside [0, 1)");
  expect_error("time_s,fraction\n0,0.1\n-3,0.1\n", "bg.csv:3: column 'time_s': -3 is negative");
  expect_error("time_s,fraction\n0,x\n", "bg.csv:2: column 'fraction': 'x' is not a finite");
  expect_error("time_s,fraction\n0\n", "bg.csv:2: 1 fields, header has 2");
  expect_error("time_s,fraction\n5,0.1\n5,0.2\n",
               "bg.csv:3: time_s 5 is given twice (also line 2)");
  expect_error("", "bg.csv: empty background");
  EXPECT_EQ(LoadBackground("/nonexistent/bg.csv").status().code(), absl::StatusCode::kNotFound);
}

TEST(SimulatorTest, OutputsTableJsonAndSvg) {
  const Trace t = TwoTiers(10, 60, 9);
  SimConfig c = RequestsCapacity(15);
  c.warmup_s = 30;
  auto r = Simulate(t, c, PolicyKind::kStatic);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(FormatTable({*r}), HasSubstr("policy static"));
  EXPECT_THAT(FormatTable({*r}), HasSubstr("tier 0"));
  EXPECT_THAT(ToJson({*r}), HasSubstr("\"policy\": \"static\""));
  EXPECT_THAT(ToJson({*r}), HasSubstr("\"p99_s\""));
  EXPECT_THAT(ToSvg({*r}, t), HasSubstr("<svg"));
}

TEST(SimulatorTest, RefusesBadConfiguration) {
  const Trace t = TwoTiers(10, 60, 9);
  SimConfig c = RequestsCapacity(15);
  c.warmup_s = 100;
  auto r = Simulate(t, c, PolicyKind::kStatic);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("warmup_s = 100"));
  c = SimConfig{};
  EXPECT_THAT(std::string(Simulate(t, c, PolicyKind::kStatic).status().message()),
              HasSubstr("every resource is unlimited"));
  c = RequestsCapacity(15);
  c.timeout_s = 0;
  EXPECT_THAT(std::string(Simulate(t, c, PolicyKind::kStatic).status().message()),
              HasSubstr("timeout_s = 0"));
  c = RequestsCapacity(15);
  c.borrow_cost_headroom = -1;
  EXPECT_THAT(std::string(Simulate(t, c, PolicyKind::kPredictive).status().message()),
              HasSubstr("borrow_cost_headroom = -1"));
  c = RequestsCapacity(15);
  c.borrow_tier_reserve = {0, 0.5, 0.1, 0.1};
  EXPECT_THAT(std::string(Simulate(t, c, PolicyKind::kPredictive).status().message()),
              HasSubstr("borrow_tier_reserve"));
  c = RequestsCapacity(15);
  c.borrow_cost_weight = 0;
  EXPECT_THAT(std::string(Simulate(t, c, PolicyKind::kPredictive).status().message()),
              HasSubstr("unknown-cost weight = 0"));
  c = RequestsCapacity(15);
  c.borrow_cost_spread = -0.5;
  EXPECT_THAT(std::string(Simulate(t, c, PolicyKind::kPredictive).status().message()),
              HasSubstr("unknown-cost spread = -0.5"));
  EXPECT_THAT(std::string(ParseBorrowCost("psychic").status().message()),
              HasSubstr("--borrow-cost: unknown mode 'psychic'"));
  EXPECT_EQ(*ParseBorrowCost("mean"), BorrowCost::kClassMean);
  EXPECT_EQ(BorrowCostName(*ParseBorrowCost("declared")), "declared");
  EXPECT_EQ(ParsePolicy("fancy").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*ParsePolicy("reactive"), PolicyKind::kAimd);
}

}  // namespace
}  // namespace tidegate::sim
