// Crash-recovery test of the SQLite HistoryStore: a child process appends numbered batches and
// acknowledges each one through a pipe once Append returned OK; the parent SIGKILLs it at random
// moments (during Open, between batches, inside a transaction), reopens the store and checks
//   * every acknowledged batch is present, completely (all series, all samples, right values);
//   * no batch is partially visible, and rollups agree with the raw rows (same transaction);
//   * batches are a prefix 0..m-1 with m - 1 >= the last acknowledged id (at most one batch
//     committed whose acknowledgement the kill prevented).
// Then the next child resumes from m. The seed is printed; rerun with TIDEGATE_CRASH_SEED=<seed>.
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <set>

#include "gtest/gtest.h"
#include "tidegate/history/sqlite_store.h"

namespace tidegate::history {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

constexpr int kRounds = 120;
constexpr int kSeries = 3;
constexpr int kSamplesPerSeries = 40;
constexpr int64_t kBatchSpacingS = 100;  // Batch id b covers [base + 100 b, base + 100 b + 40) s.
constexpr int64_t kBaseS = 1'699'999'200;

SeriesKey Key(int s) { return SeriesKey{"requests", "crash", "series=" + std::to_string(s)}; }

double ValueOf(int64_t id) { return static_cast<double>(id % 997 + 1); }

SampleBatch MakeBatch(int64_t id) {
  SampleBatch batch;
  for (int s = 0; s < kSeries; ++s) {
    for (int j = 0; j < kSamplesPerSeries; ++j) {
      batch.Add(Key(s), WallTime(seconds(kBaseS + id * kBatchSpacingS + j)), ValueOf(id));
    }
  }
  return batch;
}

// Runs in the forked child: never returns. Exit codes other than death by SIGKILL are failures.
[[noreturn]] void ChildMain(const std::string& dir, int64_t first_id, int ack_fd) {
  SqliteStoreOptions options;
  options.sync = SyncMode::kFull;
  auto store = SqliteStore::Open(dir, options);
  if (!store.ok()) {
    fprintf(stderr, "child: open failed: %s\n", std::string(store.status().message()).c_str());
    _exit(2);
  }
  for (int64_t id = first_id;; ++id) {
    absl::Status s = (*store)->Append(MakeBatch(id));
    if (!s.ok()) {
      fprintf(stderr, "child: append %ld failed: %s\n", static_cast<long>(id),
              std::string(s.message()).c_str());
      _exit(3);
    }
    if (write(ack_fd, &id, sizeof(id)) != sizeof(id)) _exit(4);
  }
}

// Reads one acknowledged id; false at end of stream.
bool ReadAck(int fd, int64_t& id) {
  size_t got = 0;
  auto* p = reinterpret_cast<char*>(&id);
  while (got < sizeof(id)) {
    const ssize_t n = read(fd, p + got, sizeof(id) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  return true;
}

// Returns m such that exactly batches [0, m) are present and complete; fails the test otherwise.
int64_t VerifyStore(const std::string& dir, int64_t max_possible) {
  SqliteStoreOptions options;
  options.read_only = true;
  auto opened = SqliteStore::Open(dir, options);
  if (!opened.ok()) {
    // The very first child may have died before creating the file.
    EXPECT_EQ(opened.status().code(), absl::StatusCode::kNotFound) << opened.status();
    return 0;
  }
  SqliteStore& store = **opened;
  const WallTime start{seconds(kBaseS)};
  const WallTime end(seconds(kBaseS + (max_possible + 2) * kBatchSpacingS));
  int64_t present = -1;
  double total_count = 0;
  double total_sum = 0;
  for (int s = 0; s < kSeries; ++s) {
    auto counts = store.QueryAt(Resolution::kRaw, Key(s), start, end, seconds(kBatchSpacingS),
                                Aggregation::kCount);
    auto sums = store.QueryAt(Resolution::kRaw, Key(s), start, end, seconds(kBatchSpacingS),
                              Aggregation::kSum);
    EXPECT_TRUE(counts.ok() && sums.ok()) << counts.status() << sums.status();
    if (!counts.ok() || !sums.ok()) return 0;
    EXPECT_EQ(counts->size(), sums->size());
    for (size_t i = 0; i < counts->size(); ++i) {
      const int64_t id =
          ((*counts)[i].time - start) / seconds(kBatchSpacingS);  // Bucket index = batch id.
      EXPECT_EQ(id, static_cast<int64_t>(i)) << "batch " << i << " missing in series " << s;
      EXPECT_EQ((*counts)[i].value, kSamplesPerSeries)
          << "partial batch " << id << " in series " << s;
      EXPECT_EQ((*sums)[i].value, kSamplesPerSeries * ValueOf(id)) << "batch " << id;
      total_count += (*counts)[i].value;
      total_sum += (*sums)[i].value;
    }
    const int64_t n = static_cast<int64_t>(counts->size());
    if (present >= 0) {
      EXPECT_EQ(n, present) << "series disagree on the number of batches";
    }
    present = n;
  }
  // Rollups were committed with the raw rows: their totals agree exactly (integer values).
  const WallTime hour_end(seconds(kBaseS) + hours(1 + (max_possible + 2) * kBatchSpacingS / 3600));
  for (Resolution r : {Resolution::kOneMinute, Resolution::kOneHour}) {
    double count = 0;
    double sum = 0;
    for (int s = 0; s < kSeries; ++s) {
      auto c = store.QueryAt(r, Key(s), start, hour_end, hours(1), Aggregation::kCount);
      auto su = store.QueryAt(r, Key(s), start, hour_end, hours(1), Aggregation::kSum);
      EXPECT_TRUE(c.ok() && su.ok());
      if (!c.ok() || !su.ok()) return 0;
      for (const Point& p : *c) count += p.value;
      for (const Point& p : *su) sum += p.value;
    }
    EXPECT_EQ(count, total_count) << "rollup " << ResolutionName(r) << " disagrees with raw";
    EXPECT_EQ(sum, total_sum) << "rollup " << ResolutionName(r) << " disagrees with raw";
  }
  return present < 0 ? 0 : present;
}

TEST(SqliteCrashTest, AcknowledgedBatchesSurviveSigkill) {
  uint64_t seed = std::random_device{}();
  if (const char* env = std::getenv("TIDEGATE_CRASH_SEED")) seed = std::strtoull(env, nullptr, 10);
  printf("TIDEGATE_CRASH_SEED=%lu\n", static_cast<unsigned long>(seed));
  SCOPED_TRACE(::testing::Message() << "TIDEGATE_CRASH_SEED=" << seed);
  std::mt19937_64 rng(seed);

  std::string tmpl = (std::filesystem::temp_directory_path() / "tidegate_crash_XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  const std::string dir = tmpl;

  int64_t next_id = 0;  // Batches [0, next_id) are known present.
  int kills_mid_batch = 0;
  int64_t total_acked = 0;
  for (int round = 0; round < kRounds && !::testing::Test::HasFailure(); ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    fflush(stdout);
    fflush(stderr);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      ChildMain(dir, next_id, fds[1]);
    }
    close(fds[1]);

    // Wait for 0..3 acknowledgements, then kill after a random delay of up to 4 ms, so kills
    // land in Open, inside transactions, in fsync and between batches.
    const int acks_before_kill = static_cast<int>(rng() % 4);
    int64_t max_acked = next_id - 1;
    int64_t id = 0;
    bool child_alive = true;
    for (int a = 0; a < acks_before_kill; ++a) {
      if (!ReadAck(fds[0], id)) {
        child_alive = false;
        break;
      }
      EXPECT_EQ(id, max_acked + 1);
      max_acked = id;
      ++total_acked;
    }
    const timespec delay{0, static_cast<long>(rng() % 4'000'000)};
    nanosleep(&delay, nullptr);
    kill(pid, SIGKILL);
    int wstatus = 0;
    ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL)
        << "child ended on its own (exit " << (WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1)
        << "), alive=" << child_alive;
    while (ReadAck(fds[0], id)) {  // Acks written before the kill.
      EXPECT_EQ(id, max_acked + 1);
      max_acked = id;
      ++total_acked;
    }
    close(fds[0]);

    const int64_t present = VerifyStore(dir, max_acked + 2);
    EXPECT_GE(present, max_acked + 1) << "acknowledged batch lost in round " << round;
    EXPECT_LE(present, max_acked + 2) << "round " << round;
    EXPECT_GE(present, next_id) << "batches disappeared in round " << round;
    if (present == max_acked + 2) ++kills_mid_batch;
    next_id = present;
  }
  printf("rounds=%d batches=%ld acked=%ld committed-but-unacked=%d\n", kRounds,
         static_cast<long>(next_id), static_cast<long>(total_acked), kills_mid_batch);
  EXPECT_GT(next_id, 0);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace tidegate::history
