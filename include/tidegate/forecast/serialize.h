// tidegate/forecast/serialize.h — a tiny byte format for model state (Forecaster::SaveState).
//
// Little-endian fixed-width fields written in order and read back in the same order; no schema.
// A model writes a version number first so that it can reject bytes from another layout. The
// reader never reads past the end: every getter fails (returns false) on truncation, and the
// caller turns that into InvalidArgument.
//
//   ByteWriter w;  w.PutU32(1); w.PutDouble(alpha_); w.PutDoubles(state_);
//   ByteReader r(bytes);  uint32_t v; double a; std::vector<double> s;
//   if (!r.GetU32(&v) || v != 1 || !r.GetDouble(&a) || !r.GetDoubles(&s) || !r.AtEnd()) error…
//
// Thread-safety: none needed (value types).
#ifndef TIDEGATE_FORECAST_SERIALIZE_H_
#define TIDEGATE_FORECAST_SERIALIZE_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace tidegate::forecast {

// Upper bound on one length-prefixed field, so a corrupt length cannot trigger a huge allocation.
inline constexpr uint64_t kMaxSerializedElements = uint64_t{1} << 28;

class ByteWriter {
 public:
  void PutU32(uint32_t v) { PutRaw(&v, sizeof v); }
  void PutU64(uint64_t v) { PutRaw(&v, sizeof v); }
  void PutI64(int64_t v) { PutRaw(&v, sizeof v); }
  void PutDouble(double v) { PutRaw(&v, sizeof v); }
  void PutString(std::string_view s) {
    PutU64(s.size());
    out_.append(s.data(), s.size());
  }
  void PutDoubles(const std::vector<double>& v) {
    PutU64(v.size());
    if (!v.empty()) PutRaw(v.data(), v.size() * sizeof(double));
  }
  void PutInts(const std::vector<int>& v) {
    PutU64(v.size());
    for (int x : v) PutI64(x);
  }
  const std::string& bytes() const { return out_; }
  std::string Release() { return std::move(out_); }

 private:
  void PutRaw(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }
  std::string out_;
};

class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}

  bool GetU32(uint32_t* v) { return GetRaw(v, sizeof *v); }
  bool GetU64(uint64_t* v) { return GetRaw(v, sizeof *v); }
  bool GetI64(int64_t* v) { return GetRaw(v, sizeof *v); }
  bool GetDouble(double* v) { return GetRaw(v, sizeof *v); }
  bool GetString(std::string* s) {
    uint64_t n;
    if (!GetU64(&n) || n > in_.size() - pos_) return false;
    s->assign(in_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  bool GetDoubles(std::vector<double>* v) {
    uint64_t n;
    if (!GetU64(&n) || n > kMaxSerializedElements || n * sizeof(double) > in_.size() - pos_) {
      return false;
    }
    v->resize(n);
    return n == 0 || GetRaw(v->data(), n * sizeof(double));
  }
  bool GetInts(std::vector<int>* v) {
    uint64_t n;
    if (!GetU64(&n) || n > kMaxSerializedElements || n * sizeof(int64_t) > in_.size() - pos_) {
      return false;
    }
    v->resize(n);
    for (auto& x : *v) {
      int64_t w;
      if (!GetI64(&w)) return false;
      x = static_cast<int>(w);
    }
    return true;
  }
  bool AtEnd() const { return pos_ == in_.size(); }
  std::string_view Rest() const { return in_.substr(pos_); }

 private:
  bool GetRaw(void* p, size_t n) {
    if (n > in_.size() - pos_) return false;
    std::memcpy(p, in_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  std::string_view in_;
  size_t pos_ = 0;
};

}  // namespace tidegate::forecast

#endif  // TIDEGATE_FORECAST_SERIALIZE_H_
