// Storage-fault tests of the SQLite HistoryStore: a full disk (a size quota, a write that fails
// with "disk full" through a fault-injecting VFS, and a real 2 MiB tmpfs), an I/O error, and a
// read-only data directory (file permissions and a read-only mount). In every case the failing
// call returns a clear error, nothing of the failed batch is visible, and the store keeps serving
// queries of what it has; once the fault is cleared, appends work again.
//
// The tmpfs cases need root and a mount namespace; they run in a forked child that unshares its
// mount namespace (nothing is mounted in the test machine's namespace) and are skipped elsewhere.
#include <sched.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tidegate/history/sqlite_store.h"

namespace tidegate::history {
namespace {

using std::chrono::hours;
using std::chrono::seconds;
using ::testing::HasSubstr;

constexpr int64_t kBaseS = 1'699'999'200;

const SeriesKey kKey{"io_write_bytes", "acme", "class=upload"};

SampleBatch MakeBatch(int64_t id, int samples) {
  SampleBatch batch;
  for (int j = 0; j < samples; ++j) {
    // Distinct timestamps per batch; fractional values defeat SQLite's integer compaction.
    batch.Add(kKey, WallTime(seconds(kBaseS) + std::chrono::milliseconds(id * 1'000'000 + j)),
              1.5 + j);
  }
  return batch;
}

double CountAll(SqliteStore& store, Resolution resolution = Resolution::kRaw) {
  auto points = store.QueryAt(resolution, kKey, WallTime(seconds(kBaseS)),
                              WallTime(seconds(kBaseS) + hours(24 * 365)), hours(24 * 365),
                              Aggregation::kCount);
  EXPECT_TRUE(points.ok()) << points.status();
  double n = 0;
  if (points.ok()) {
    for (const Point& p : *points) n += p.value;
  }
  return n;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tidegate_fault_XXXXXX").string();
    path_ = mkdtemp(tmpl.data()) != nullptr ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Runs `body` in a forked child; the child's gtest failures make it exit non-zero. Returns the
// child's exit code (77 means "skipped", with the reason printed by the child).
template <typename Body>
int RunInChild(Body body) {
  fflush(stdout);
  fflush(stderr);
  const pid_t pid = fork();
  if (pid == 0) {
    const int code = body();
    fflush(stdout);
    fflush(stderr);
    _exit(code != 0 ? code : (::testing::Test::HasFailure() ? 1 : 0));
  }
  int wstatus = 0;
  if (pid < 0 || waitpid(pid, &wstatus, 0) != pid) return -1;
  return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
}

// ---- Disk full via the size quota ---------------------------------------------------------

TEST(SqliteFaultTest, QuotaFullGivesResourceExhaustedAndKeepsServing) {
  TempDir dir;
  SqliteStoreOptions options;
  options.sync = SyncMode::kNormal;
  options.max_db_bytes = 1024 * 1024;
  auto opened = SqliteStore::Open(dir.path(), options);
  ASSERT_TRUE(opened.ok()) << opened.status();
  SqliteStore& store = **opened;

  int64_t acked = 0;
  absl::Status failure;
  for (int64_t id = 0; id < 1000; ++id) {
    failure = store.Append(MakeBatch(id, 500));
    if (!failure.ok()) break;
    ++acked;
  }
  ASSERT_FALSE(failure.ok()) << "1 MiB quota never filled";
  EXPECT_GT(acked, 0);
  EXPECT_EQ(failure.code(), absl::StatusCode::kResourceExhausted) << failure;
  EXPECT_THAT(failure.message(), HasSubstr("history.sqlite"));
  EXPECT_THAT(failure.message(), HasSubstr("full"));
  EXPECT_THAT(failure.message(), HasSubstr("nothing stored"));

  // Everything acknowledged is served, nothing of the failed batch is, at every resolution.
  EXPECT_EQ(CountAll(store), acked * 500.0);
  EXPECT_EQ(CountAll(store, Resolution::kOneMinute), acked * 500.0);
  EXPECT_EQ(CountAll(store, Resolution::kOneHour), acked * 500.0);
  EXPECT_EQ(store.Append(MakeBatch(acked, 500)).code(), absl::StatusCode::kResourceExhausted);

  // Freeing space (retention or deletion) lets appends succeed again.
  ASSERT_TRUE(store.DeleteSeries(kKey).ok());
  EXPECT_TRUE(store.Append(MakeBatch(0, 500)).ok());
  EXPECT_EQ(CountAll(store), 500.0);
}

// ---- Faults injected below SQLite -------------------------------------------------------------

// A VFS that forwards to the default one and fails writes (and syncs) on demand, like LevelDB's
// fault-injection Env. Mode: 0 = healthy, otherwise the SQLite error to return from xWrite.
std::atomic<int> g_fail_writes{0};
sqlite3_vfs* g_real_vfs = nullptr;

struct FaultFile {
  sqlite3_file base;
  sqlite3_file* real;  // Allocated right after this struct.
};

sqlite3_file* Real(sqlite3_file* f) { return reinterpret_cast<FaultFile*>(f)->real; }

int FaultClose(sqlite3_file* f) { return Real(f)->pMethods->xClose(Real(f)); }
int FaultRead(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
  return Real(f)->pMethods->xRead(Real(f), buf, n, off);
}
int FaultWrite(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
  if (const int mode = g_fail_writes.load(); mode != 0) return mode;
  return Real(f)->pMethods->xWrite(Real(f), buf, n, off);
}
int FaultTruncate(sqlite3_file* f, sqlite3_int64 size) {
  return Real(f)->pMethods->xTruncate(Real(f), size);
}
int FaultSync(sqlite3_file* f, int flags) {
  if (g_fail_writes.load() == SQLITE_IOERR_WRITE) return SQLITE_IOERR_FSYNC;
  return Real(f)->pMethods->xSync(Real(f), flags);
}
int FaultFileSize(sqlite3_file* f, sqlite3_int64* size) {
  return Real(f)->pMethods->xFileSize(Real(f), size);
}
int FaultLock(sqlite3_file* f, int l) { return Real(f)->pMethods->xLock(Real(f), l); }
int FaultUnlock(sqlite3_file* f, int l) { return Real(f)->pMethods->xUnlock(Real(f), l); }
int FaultCheckReservedLock(sqlite3_file* f, int* out) {
  return Real(f)->pMethods->xCheckReservedLock(Real(f), out);
}
int FaultFileControl(sqlite3_file* f, int op, void* arg) {
  return Real(f)->pMethods->xFileControl(Real(f), op, arg);
}
int FaultSectorSize(sqlite3_file* f) { return Real(f)->pMethods->xSectorSize(Real(f)); }
int FaultDeviceCharacteristics(sqlite3_file* f) {
  return Real(f)->pMethods->xDeviceCharacteristics(Real(f));
}
int FaultShmMap(sqlite3_file* f, int region, int size, int extend, void volatile** p) {
  return Real(f)->pMethods->xShmMap(Real(f), region, size, extend, p);
}
int FaultShmLock(sqlite3_file* f, int offset, int n, int flags) {
  return Real(f)->pMethods->xShmLock(Real(f), offset, n, flags);
}
void FaultShmBarrier(sqlite3_file* f) { Real(f)->pMethods->xShmBarrier(Real(f)); }
int FaultShmUnmap(sqlite3_file* f, int del) { return Real(f)->pMethods->xShmUnmap(Real(f), del); }
int FaultFetch(sqlite3_file* f, sqlite3_int64 off, int n, void** p) {
  return Real(f)->pMethods->xFetch(Real(f), off, n, p);
}
int FaultUnfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
  return Real(f)->pMethods->xUnfetch(Real(f), off, p);
}

const sqlite3_io_methods kFaultMethods = {3,
                                          FaultClose,
                                          FaultRead,
                                          FaultWrite,
                                          FaultTruncate,
                                          FaultSync,
                                          FaultFileSize,
                                          FaultLock,
                                          FaultUnlock,
                                          FaultCheckReservedLock,
                                          FaultFileControl,
                                          FaultSectorSize,
                                          FaultDeviceCharacteristics,
                                          FaultShmMap,
                                          FaultShmLock,
                                          FaultShmBarrier,
                                          FaultShmUnmap,
                                          FaultFetch,
                                          FaultUnfetch};

int FaultOpen(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  auto* f = reinterpret_cast<FaultFile*>(file);
  f->real = reinterpret_cast<sqlite3_file*>(f + 1);
  const int rc = g_real_vfs->xOpen(g_real_vfs, name, f->real, flags, out_flags);
  f->base.pMethods = f->real->pMethods != nullptr ? &kFaultMethods : nullptr;
  return rc;
}

constexpr const char* kFaultVfsName = "tidegate-fault";

void RegisterFaultVfs() {
  static sqlite3_vfs vfs;
  if (g_real_vfs != nullptr) return;
  g_real_vfs = sqlite3_vfs_find(nullptr);
  vfs = *g_real_vfs;
  vfs.zName = kFaultVfsName;
  vfs.szOsFile = static_cast<int>(sizeof(FaultFile)) + g_real_vfs->szOsFile;
  vfs.xOpen = FaultOpen;
  vfs.pAppData = nullptr;
  ASSERT_EQ(sqlite3_vfs_register(&vfs, /*makeDflt=*/0), SQLITE_OK);
}

class SqliteInjectedFaultTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    RegisterFaultVfs();
    g_fail_writes = 0;
  }
  void TearDown() override { g_fail_writes = 0; }
};

TEST_P(SqliteInjectedFaultTest, FailedWriteLeavesNothingAndStoreRecovers) {
  const int fault = GetParam();
  TempDir dir;
  SqliteStoreOptions options;
  options.vfs = kFaultVfsName;
  auto opened = SqliteStore::Open(dir.path(), options);
  ASSERT_TRUE(opened.ok()) << opened.status();
  SqliteStore& store = **opened;
  ASSERT_TRUE(store.Append(MakeBatch(0, 300)).ok());

  g_fail_writes = fault;
  // A batch large enough to spill pages before COMMIT, and a small one that fails at COMMIT.
  for (int samples : {20000, 10}) {
    SCOPED_TRACE(samples);
    absl::Status s = store.Append(MakeBatch(1, samples));
    ASSERT_FALSE(s.ok());
    if (fault == SQLITE_FULL) {
      EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
      EXPECT_THAT(s.message(), HasSubstr("full"));
    } else {
      EXPECT_EQ(s.code(), absl::StatusCode::kInternal) << s;
      EXPECT_THAT(s.message(), HasSubstr("I/O error"));
    }
    EXPECT_THAT(s.message(), HasSubstr(store.path()));
    // Still serving, and the failed batch is invisible at every resolution.
    EXPECT_EQ(CountAll(store), 300.0);
    EXPECT_EQ(CountAll(store, Resolution::kOneHour), 300.0);
  }

  g_fail_writes = 0;
  ASSERT_TRUE(store.Append(MakeBatch(1, 10)).ok());
  EXPECT_EQ(CountAll(store), 310.0);
  opened->reset();

  // And after reopening, exactly the acknowledged batches are there.
  auto reopened = SqliteStore::Open(dir.path());
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ(CountAll(**reopened), 310.0);
  EXPECT_EQ(CountAll(**reopened, Resolution::kOneMinute), 310.0);
}

INSTANTIATE_TEST_SUITE_P(Faults, SqliteInjectedFaultTest,
                         ::testing::Values(SQLITE_FULL, SQLITE_IOERR_WRITE),
                         [](const ::testing::TestParamInfo<int>& param_info) {
                           return param_info.param == SQLITE_FULL ? std::string("DiskFull")
                                                                  : std::string("IoError");
                         });

// ---- Read-only data directory (permissions) -------------------------------------------------

TEST(SqliteFaultTest, UnwritableDirectoryOpensReadOnlyAndServesQueries) {
  TempDir dir;
  {
    auto store = SqliteStore::Open(dir.path());
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->Append(MakeBatch(0, 100)).ok());
  }  // Clean close: the WAL is checkpointed and removed.
  // Readable by everyone, writable by nobody but root; the child drops root if it has it.
  ASSERT_EQ(chmod(dir.path().c_str(), 0555), 0);
  const int code = RunInChild([&] {
    if (geteuid() == 0 && setuid(65534) != 0) {
      printf("cannot drop root: %s\n", std::strerror(errno));
      return 77;
    }
    auto store = SqliteStore::Open(dir.path());
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return 1;
    EXPECT_TRUE((*store)->read_only());
    EXPECT_THAT((*store)->read_only_reason(), HasSubstr("is not writable"));
    EXPECT_EQ(CountAll(**store), 100.0);
    EXPECT_EQ(CountAll(**store, Resolution::kOneHour), 100.0);
    absl::Status s = (*store)->Append(MakeBatch(1, 10));
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(s.message(), HasSubstr("read-only"));
    EXPECT_THAT(s.message(), HasSubstr(dir.path()));
    EXPECT_THAT(s.message(), HasSubstr("batch of 10 samples not stored"));
    EXPECT_EQ((*store)->ApplyRetention(WallTime(hours(1'000'000))).code(),
              absl::StatusCode::kFailedPrecondition);
    auto listed = (*store)->ListSeries({});
    EXPECT_TRUE(listed.ok() && listed->size() == 1u);
    return 0;
  });
  if (code == 77) GTEST_SKIP() << "cannot drop privileges";
  EXPECT_EQ(code, 0) << "see the child's output above";
}

TEST(SqliteFaultTest, UnwritableDirectoryWithoutDatabaseIsNotFound) {
  TempDir dir;
  ASSERT_EQ(chmod(dir.path().c_str(), 0555), 0);
  const int code = RunInChild([&] {
    if (geteuid() == 0 && setuid(65534) != 0) return 77;
    auto store = SqliteStore::Open(dir.path());
    EXPECT_EQ(store.status().code(), absl::StatusCode::kNotFound);
    EXPECT_THAT(store.status().message(), HasSubstr("not writable"));
    return 0;
  });
  if (code == 77) GTEST_SKIP() << "cannot drop privileges";
  EXPECT_EQ(code, 0);
}

// ---- A real small file system -----------------------------------------------------------------

// In the child: a private mount namespace with a tmpfs of `size` at `dir`. False (skip) when the
// process may not do that (not root, no CAP_SYS_ADMIN).
bool MountPrivateTmpfs(const std::string& dir, const char* size) {
  if (unshare(CLONE_NEWNS) != 0) return false;
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return false;
  return mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, size) == 0;
}

TEST(SqliteFaultTest, FullTmpfsThenReadOnlyRemount) {
  TempDir dir;
  const int code = RunInChild([&] {
    if (!MountPrivateTmpfs(dir.path(), "size=2m")) {
      printf("no private tmpfs: %s\n", std::strerror(errno));
      return 77;
    }
    int64_t acked = 0;
    {
      SqliteStoreOptions options;
      options.sync = SyncMode::kNormal;
      auto store = SqliteStore::Open(dir.path(), options);
      EXPECT_TRUE(store.ok()) << store.status();
      if (!store.ok()) return 1;
      absl::Status failure;
      for (int64_t id = 0; id < 1000; ++id) {
        failure = (*store)->Append(MakeBatch(id, 500));
        if (!failure.ok()) break;
        ++acked;
      }
      printf("tmpfs full after %ld batches: %s\n", static_cast<long>(acked),
             std::string(failure.message()).c_str());
      EXPECT_GT(acked, 0);
      EXPECT_EQ(failure.code(), absl::StatusCode::kResourceExhausted) << failure;
      EXPECT_THAT(failure.message(), HasSubstr("full"));
      EXPECT_EQ(CountAll(**store), acked * 500.0);
      EXPECT_EQ(CountAll(**store, Resolution::kOneMinute), acked * 500.0);
    }
    // Read-only mount (even root cannot write): the store opens read-only and serves queries.
    if (mount("tmpfs", dir.path().c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr) != 0) {
      printf("remount read-only failed: %s\n", std::strerror(errno));
      return 1;
    }
    auto store = SqliteStore::Open(dir.path());
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return 1;
    EXPECT_TRUE((*store)->read_only());
    EXPECT_THAT((*store)->read_only_reason(), HasSubstr("not writable"));
    EXPECT_EQ(CountAll(**store), acked * 500.0);
    absl::Status s = (*store)->Append(MakeBatch(acked, 1));
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(s.message(), HasSubstr("read-only"));
    return 0;
  });
  if (code == 77) GTEST_SKIP() << "needs root and mount namespaces";
  EXPECT_EQ(code, 0) << "see the child's output above";
}

}  // namespace
}  // namespace tidegate::history
