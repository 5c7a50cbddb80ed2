// tidegate/server/certificate_mirror.h — validated private copies of a TLS certificate and key.
//
// gRPC serves TLS from files it watches itself (a FileWatcherCertificateProvider re-reads them
// every second) and, given a certificate with a key that is not its own, stops handshaking until
// the files are fixed. CertificateMirror puts a gate in front of it: gRPC watches copies in a
// private directory, and Update() re-reads the configured files, installs them only when the pair
// is valid (both parse, the key is the certificate's, a client CA file holds a certificate) and
// otherwise keeps the installed pair serving.
//
// Layout of `dir` (created 0700; files 0600):
//   gen-<n>/cert.pem, gen-<n>/key.pem, gen-<n>/client_ca.pem   one installed generation
//   current -> gen-<n>                                          a symlink, replaced by rename(2)
// A new generation is written completely before `current` is switched to it in one atomic rename,
// so a reader of `current/...` never sees a key from one generation beside a certificate that has
// not been installed yet. The previous generation stays (a reader may have opened it just before
// the switch); older ones are removed.
//
// Thread-safety: every method may be called from any thread (one mutex).
#ifndef TIDEGATE_SERVER_CERTIFICATE_MIRROR_H_
#define TIDEGATE_SERVER_CERTIFICATE_MIRROR_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tidegate/server/config.h"

namespace tidegate::server {

class CertificateMirror {
 public:
  // Creates `dir` and installs the pair named by `source`. `what` names the config section in
  // errors and metrics ("tls.grpc"). InvalidArgument naming the file when the pair is not valid;
  // Internal when `dir` cannot be written.
  static absl::StatusOr<std::unique_ptr<CertificateMirror>> Create(std::string dir,
                                                                   const TlsFiles& source,
                                                                   std::string what);

  // Re-reads the files named by `source` (they may differ from the last call's). Unchanged
  // contents: OK, nothing done. A valid new pair: installed, OK. Otherwise InvalidArgument naming
  // the file and the problem, the installed pair keeps serving, and the rejection is counted (once
  // per distinct bad contents, however often they are re-read).
  absl::Status Update(const TlsFiles& source);

  // The files to serve from (under dir/current): they always hold a valid pair.
  std::string cert_file() const;
  std::string key_file() const;
  // Empty when the source has no client CA file.
  std::string client_ca_file() const;

  uint64_t installed() const;  // Pairs installed, the first one included.
  uint64_t rejected() const;   // Distinct bad pairs refused.

  // Prometheus text: tidegate_tls_reloads_total{listener,result} for this mirror.
  std::string RenderMetrics() const;

 private:
  struct Contents {
    std::string cert, key, client_ca;
    bool operator==(const Contents&) const = default;
  };
  CertificateMirror(std::string dir, std::string what)
      : dir_(std::move(dir)), what_(std::move(what)) {}

  // Reads the files (not validated); InvalidArgument naming a file that cannot be read.
  absl::StatusOr<Contents> Read(const TlsFiles& source) const;
  absl::Status Install(const Contents& contents);  // Caller holds mu_.

  const std::string dir_;
  const std::string what_;
  mutable std::mutex mu_;
  Contents installed_contents_;  // Guarded by mu_.
  std::string last_rejected_;    // Guarded by mu_: the raw bytes of the last refused pair.
  bool has_client_ca_ = false;   // Guarded by mu_.
  uint64_t generation_ = 0;      // Guarded by mu_.
  uint64_t installed_ = 0;       // Guarded by mu_.
  uint64_t rejected_ = 0;        // Guarded by mu_.
};

}  // namespace tidegate::server

#endif  // TIDEGATE_SERVER_CERTIFICATE_MIRROR_H_
