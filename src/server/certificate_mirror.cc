// Validated private copies of a TLS pair (see tidegate/server/certificate_mirror.h).
#include "tidegate/server/certificate_mirror.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "fmt/format.h"
#include "tidegate/common/status.h"

namespace tidegate::server {
namespace {

namespace fs = std::filesystem;

absl::StatusOr<std::string> Slurp(const std::string& file, std::string_view field) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::error_code ec;
    return absl::InvalidArgumentError(fmt::format(
        "{}: '{}' {}", field, file, fs::exists(file, ec) ? "cannot be read" : "does not exist"));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;
BioPtr MemBio(const std::string& text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())), &BIO_free);
}

std::unique_ptr<X509, decltype(&X509_free)> ParseCertificate(const std::string& text) {
  BioPtr bio = MemBio(text);
  return {bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr, &X509_free};
}

// The pair is usable: both parse, the key is the certificate's, a client CA file holds a
// certificate. InvalidArgument naming the file.
absl::Status Validate(std::string_view what, const TlsFiles& source, const std::string& cert_pem,
                      const std::string& key_pem, const std::string& client_ca_pem) {
  auto cert = ParseCertificate(cert_pem);
  if (!cert) {
    return absl::InvalidArgumentError(
        fmt::format("{}.cert_file: '{}' holds no PEM certificate", what, source.cert_file));
  }
  BioPtr key_bio = MemBio(key_pem);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr) : nullptr,
      &EVP_PKEY_free);
  if (!key) {
    return absl::InvalidArgumentError(
        fmt::format("{}.key_file: '{}' holds no PEM private key", what, source.key_file));
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        fmt::format("{}.key_file: '{}' is not the private key of the certificate in '{}'", what,
                    source.key_file, source.cert_file));
  }
  if (!source.client_ca_file.empty() && !ParseCertificate(client_ca_pem)) {
    return absl::InvalidArgumentError(fmt::format(
        "{}.client_ca_file: '{}' holds no PEM CA certificate", what, source.client_ca_file));
  }
  ERR_clear_error();
  return absl::OkStatus();
}

// Writes `text` to `path` (mode 0600) and flushes it to disk.
absl::Status WriteFile(const fs::path& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::InternalError(fmt::format("'{}': {}", path.string(), std::strerror(errno)));
  }
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      return absl::InternalError(fmt::format("'{}': {}", path.string(), std::strerror(err)));
    }
    done += static_cast<size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) {
    return absl::InternalError(fmt::format("'{}': fsync: {}", path.string(), std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<CertificateMirror>> CertificateMirror::Create(std::string dir,
                                                                             const TlsFiles& source,
                                                                             std::string what) {
  std::unique_ptr<CertificateMirror> mirror(new CertificateMirror(std::move(dir), std::move(what)));
  std::error_code ec;
  fs::create_directories(mirror->dir_, ec);
  if (ec) {
    return absl::InternalError(
        fmt::format("{}: cannot create '{}': {}", mirror->what_, mirror->dir_, ec.message()));
  }
  fs::permissions(mirror->dir_, fs::perms::owner_all, fs::perm_options::replace, ec);
  // Generations left by an earlier run are replaced below; the counter continues after them.
  for (const auto& e : fs::directory_iterator(mirror->dir_, ec)) {
    const std::string name = e.path().filename().string();
    if (name.starts_with("gen-")) {
      uint64_t n = 0;
      if (std::sscanf(name.c_str() + 4, "%lu", &n) == 1) {
        mirror->generation_ = std::max(mirror->generation_, n);
      }
    }
  }
  TIDEGATE_ASSIGN_OR_RETURN(Contents contents, mirror->Read(source));
  TIDEGATE_RETURN_IF_ERROR(
      Validate(mirror->what_, source, contents.cert, contents.key, contents.client_ca));
  std::lock_guard lock(mirror->mu_);
  TIDEGATE_RETURN_IF_ERROR(mirror->Install(contents));
  return mirror;
}

absl::StatusOr<CertificateMirror::Contents> CertificateMirror::Read(const TlsFiles& source) const {
  const std::string cert_field = fmt::format("{}.cert_file", what_);
  const std::string key_field = fmt::format("{}.key_file", what_);
  Contents c;
  TIDEGATE_ASSIGN_OR_RETURN(c.cert, Slurp(source.cert_file, cert_field));
  TIDEGATE_ASSIGN_OR_RETURN(c.key, Slurp(source.key_file, key_field));
  if (!source.client_ca_file.empty()) {
    TIDEGATE_ASSIGN_OR_RETURN(
        c.client_ca, Slurp(source.client_ca_file, fmt::format("{}.client_ca_file", what_)));
  }
  return c;
}

absl::Status CertificateMirror::Install(const Contents& c) {
  const fs::path base(dir_);
  const std::string gen = fmt::format("gen-{}", ++generation_);
  std::error_code ec;
  fs::remove_all(base / gen, ec);
  fs::create_directory(base / gen, ec);
  if (ec) {
    return absl::InternalError(
        fmt::format("{}: cannot create '{}': {}", what_, (base / gen).string(), ec.message()));
  }
  TIDEGATE_RETURN_IF_ERROR(WriteFile(base / gen / "cert.pem", c.cert));
  TIDEGATE_RETURN_IF_ERROR(WriteFile(base / gen / "key.pem", c.key));
  if (!c.client_ca.empty()) {
    TIDEGATE_RETURN_IF_ERROR(WriteFile(base / gen / "client_ca.pem", c.client_ca));
  }
  // Switch `current` in one rename: readers see the old generation or the new one, never a mix.
  const fs::path link_tmp = base / "current.new";
  fs::remove(link_tmp, ec);
  fs::create_directory_symlink(gen, link_tmp, ec);
  if (!ec) fs::rename(link_tmp, base / "current", ec);
  if (ec) {
    return absl::InternalError(fmt::format("{}: cannot switch '{}': {}", what_,
                                           (base / "current").string(), ec.message()));
  }
  // Keep this generation and the one before it (a reader may have just opened it).
  for (const auto& e : fs::directory_iterator(base, ec)) {
    const std::string name = e.path().filename().string();
    uint64_t n = 0;
    if (name.starts_with("gen-") && std::sscanf(name.c_str() + 4, "%lu", &n) == 1 &&
        n + 1 < generation_) {
      std::error_code ignored;
      fs::remove_all(e.path(), ignored);
    }
  }
  installed_contents_ = c;
  has_client_ca_ = !c.client_ca.empty();
  ++installed_;
  return absl::OkStatus();
}

absl::Status CertificateMirror::Update(const TlsFiles& source) {
  absl::StatusOr<Contents> read = Read(source);
  std::lock_guard lock(mu_);
  if (read.ok() && *read == installed_contents_) return absl::OkStatus();
  absl::Status valid = read.status();
  if (valid.ok()) valid = Validate(what_, source, read->cert, read->key, read->client_ca);
  if (!valid.ok()) {
    // Count each bad pair once, however often a reload re-reads it.
    std::string fingerprint = std::string(valid.message());
    if (read.ok()) fingerprint += read->cert + read->key + read->client_ca;
    if (fingerprint != last_rejected_) {
      last_rejected_ = std::move(fingerprint);
      ++rejected_;
    }
    return valid;
  }
  last_rejected_.clear();
  return Install(*read);
}

std::string CertificateMirror::cert_file() const {
  return (fs::path(dir_) / "current" / "cert.pem").string();
}
std::string CertificateMirror::key_file() const {
  return (fs::path(dir_) / "current" / "key.pem").string();
}
std::string CertificateMirror::client_ca_file() const {
  std::lock_guard lock(mu_);
  return has_client_ca_ ? (fs::path(dir_) / "current" / "client_ca.pem").string() : std::string();
}

uint64_t CertificateMirror::installed() const {
  std::lock_guard lock(mu_);
  return installed_;
}
uint64_t CertificateMirror::rejected() const {
  std::lock_guard lock(mu_);
  return rejected_;
}

std::string CertificateMirror::RenderMetrics() const {
  std::lock_guard lock(mu_);
  // The listener label: "tls.grpc" -> "grpc".
  const std::string listener = what_.starts_with("tls.") ? what_.substr(4) : what_;
  return fmt::format(
      "# HELP tidegate_tls_reloads_total Certificate and key pairs read from the configured files: "
      "installed (served to new handshakes) or rejected (not valid; the installed pair kept "
      "serving).\n"
      "# TYPE tidegate_tls_reloads_total counter\n"
      "tidegate_tls_reloads_total{{listener=\"{0}\",result=\"installed\"}} {1}\n"
      "tidegate_tls_reloads_total{{listener=\"{0}\",result=\"rejected\"}} {2}\n",
      listener, installed_, rejected_);
}

}  // namespace tidegate::server
