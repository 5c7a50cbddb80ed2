// Guava RateLimiter.tryAcquire() throughput: the JVM peer for bench/run_shaping.sh.
// Prints one line per measured round: "guava_tryacquire_ns <ns per call>", after warm-up rounds
// that let the JIT compile the loop. Rate is high enough that every call is admitted, as in the
// tidegate benchmark, so both measure the admit path.
import com.google.common.util.concurrent.RateLimiter;

public final class GuavaRateLimiterBench {
  public static void main(String[] args) {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 7;
    long callsPerRound = 20_000_000L;
    RateLimiter limiter = RateLimiter.create(1e9);
    long sink = 0;
    for (int warm = 0; warm < 3; ++warm) {
      for (long i = 0; i < callsPerRound; ++i) sink += limiter.tryAcquire() ? 1 : 0;
    }
    for (int r = 0; r < rounds; ++r) {
      long admitted = 0;
      long start = System.nanoTime();
      for (long i = 0; i < callsPerRound; ++i) admitted += limiter.tryAcquire() ? 1 : 0;
      long elapsed = System.nanoTime() - start;
      sink += admitted;
      System.out.printf("guava_tryacquire_ns %.3f admitted_frac %.4f%n",
          (double) elapsed / callsPerRound, (double) admitted / callsPerRound);
    }
    if (sink == 42) System.out.println();  // Keep the loop's result alive.
  }
}
