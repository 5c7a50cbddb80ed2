// libcurl wrapper (see tidegate/history/http_client.h).
#include "tidegate/history/http_client.h"

#include <curl/curl.h>

#include <algorithm>

#include "fmt/format.h"

namespace tidegate::history {
namespace {

absl::Status InitCurlOnce() {
  static const CURLcode code = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (code != CURLE_OK) {
    return absl::InternalError(
        fmt::format("libcurl initialisation failed: {}", curl_easy_strerror(code)));
  }
  return absl::OkStatus();
}

size_t WriteBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

// Milliseconds, at least 1 (libcurl treats 0 as "no timeout").
long ToMillis(Duration d) {
  return std::max<long>(1, std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpClient>> HttpClient::Create(HttpClientOptions options) {
  if (options.timeout <= Duration::zero() || options.connect_timeout <= Duration::zero()) {
    return absl::InvalidArgumentError(
        fmt::format("http client: timeout and connect_timeout must be > 0 (got {} ns, {} ns)",
                    options.timeout.count(), options.connect_timeout.count()));
  }
  absl::Status init = InitCurlOnce();
  if (!init.ok()) return init;
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(options)));
}

HttpClient::~HttpClient() {
  for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* HttpClient::TakeHandle() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      void* h = idle_.back();
      idle_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void HttpClient::ReturnHandle(void* handle) {
  std::lock_guard lock(mu_);
  if (idle_.size() < 8) {
    idle_.push_back(handle);
  } else {
    curl_easy_cleanup(static_cast<CURL*>(handle));
  }
}

absl::StatusOr<HttpResponse> HttpClient::Get(const std::string& url) {
  return Perform("GET", url, nullptr, "");
}

absl::StatusOr<HttpResponse> HttpClient::Post(const std::string& url, std::string_view body,
                                              std::string_view content_type) {
  return Perform("POST", url, &body, content_type);
}

absl::StatusOr<HttpResponse> HttpClient::Perform(const char* method, const std::string& url,
                                                 const std::string_view* body,
                                                 std::string_view content_type) {
  CURL* curl = static_cast<CURL*>(TakeHandle());
  if (curl == nullptr) return absl::InternalError("http client: curl_easy_init failed");
  curl_easy_reset(curl);
  HttpResponse response;
  char error[CURL_ERROR_SIZE] = {0};
  curl_slist* headers = nullptr;
  std::string content_type_header;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // Threads: no SIGALRM-based DNS timeouts.
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, ToMillis(options_.timeout));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   ToMillis(std::min(options_.timeout, options_.connect_timeout)));
  curl_easy_setopt(curl, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  if (body != nullptr) {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body->data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
    content_type_header = fmt::format("Content-Type: {}", content_type);
    headers = curl_slist_append(headers, content_type_header.c_str());
    headers = curl_slist_append(headers, "Expect:");  // No 100-continue round trip.
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  }
  const CURLcode code = curl_easy_perform(curl);
  if (code == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(headers);
  ReturnHandle(curl);
  if (code == CURLE_OK) return response;

  const std::string detail = error[0] != '\0' ? error : curl_easy_strerror(code);
  const std::string what = fmt::format("{} {}", method, url);
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return absl::DeadlineExceededError(
          fmt::format("{}: timed out after {} ms ({})", what, ToMillis(options_.timeout), detail));
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
      return absl::UnavailableError(fmt::format("{}: server unavailable ({})", what, detail));
    default:
      return absl::InternalError(fmt::format("{}: {}", what, detail));
  }
}

std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string BuildUrl(std::string_view base, std::string_view path,
                     const std::vector<std::pair<std::string, std::string>>& query) {
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  std::string url = fmt::format("{}{}", base, path);
  char sep = '?';
  for (const auto& [k, v] : query) {
    url.push_back(sep);
    url += UrlEncode(k);
    url.push_back('=');
    url += UrlEncode(v);
    sep = '&';
  }
  return url;
}

absl::Status StatusFromHttp(std::string_view what, const HttpResponse& response) {
  const long s = response.status;
  if (s >= 200 && s < 300) return absl::OkStatus();
  const std::string message =
      fmt::format("{}: HTTP {}: {}", what, s, std::string_view(response.body).substr(0, 300));
  if (s == 400 || s == 422) return absl::InvalidArgumentError(message);
  if (s == 401 || s == 403) return absl::PermissionDeniedError(message);
  if (s == 404) return absl::NotFoundError(message);
  if (s == 413 || s == 429) return absl::ResourceExhaustedError(message);
  if (s >= 500 && s < 600) return absl::UnavailableError(message);
  return absl::UnknownError(message);
}

}  // namespace tidegate::history
