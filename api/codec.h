#pragma once
// JSON at the edge, typed structs inside. A struct of the contract lists its
// members once, with their wire names:
//
//   struct SnapshotDisk {
//     std::string name, top, base;
//     template <class V> void visit(V& v) { v("name", name)("top", top)("base", base); }
//   };
//
// and encode()/decode() turn it into JSON and back. Supported members:
// strings, booleans, integers, doubles, Json::Value (free-form), enums with
// an EnumNames specialization, std::optional (JSON null, or absent with
// v.omitIfEmpty), std::vector (array), std::map<std::string, T> (object)
// and other visitable structs. v.rest(json) keeps the members no field
// names (a job's type-specific fields beside the common ones), and
// v.orDefault keeps a member's default when it is absent.
//
// decode() throws DecodeError naming the member (a.b[2].c) when a value is
// missing or of the wrong type; members it does not know are ignored, so a
// newer agent's extra fields do not break an older client.
#include <json/value.h>

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace gdr::api {

class DecodeError : public std::runtime_error {
 public:
  DecodeError(std::string member, const std::string& message)
      : std::runtime_error(message), member_(std::move(member)) {}
  const std::string& member() const { return member_; }  // a.b[2].c

 private:
  std::string member_;
};

// Specialize for an enum: static constexpr std::pair<E, const char*> table[].
template <class E>
struct EnumNames;

template <class E>
const char* enumName(E value) {
  for (const auto& [v, name] : EnumNames<E>::table) {
    if (v == value) return name;
  }
  return "?";
}

template <class E>
std::optional<E> enumFromName(const std::string& name) {
  for (const auto& [v, n] : EnumNames<E>::table) {
    if (name == n) return v;
  }
  return std::nullopt;
}

namespace detail {

template <class T, class = void>
struct IsVisitable : std::false_type {};
template <class T>
struct IsVisitable<T, std::void_t<decltype(&T::template visit<int>)>> : std::true_type {};

template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {};

template <class T>
Json::Value toJson(const T& value);
template <class T>
void fromJson(const Json::Value& json, T& out, const std::string& path);
template <class T>
Json::Value toJson(const std::vector<T>& items, int*);
template <class T>
Json::Value toJson(const std::map<std::string, T>& items, int*);
template <class T>
void fromJson(const Json::Value& json, std::vector<T>& out, const std::string& path, int*);
template <class T>
void fromJson(const Json::Value& json, std::map<std::string, T>& out, const std::string& path, int*);

class Encoder {
 public:
  template <class T>
  Encoder& operator()(const char* name, const T& value) {
    out[name] = toJson(value);
    return *this;
  }
  template <class T>
  Encoder& omitIfEmpty(const char* name, const std::optional<T>& value) {
    if (value) out[name] = toJson(*value);
    return *this;
  }
  template <class T>
  Encoder& orDefault(const char* name, const T& value) {
    return (*this)(name, value);
  }
  Encoder& rest(const Json::Value& extra) {
    if (!extra.isObject()) return *this;
    for (const auto& key : extra.getMemberNames()) {
      if (!out.isMember(key)) out[key] = extra[key];
    }
    return *this;
  }
  Json::Value out{Json::objectValue};
};

class Decoder {
 public:
  Decoder(const Json::Value& in, std::string path) : in_(in), path_(std::move(path)) {}
  template <class T>
  Decoder& operator()(const char* name, T& value) {
    const Json::Value* member = in_.find(name, name + std::char_traits<char>::length(name));
    known_.push_back(name);
    if (!member || member->isNull()) {
      if constexpr (IsOptional<T>::value) {
        value.reset();
        return *this;
      } else {
        throw DecodeError(path_ + name, "missing member '" + path_ + name + "'");
      }
    }
    fromJson(*member, value, path_ + name);
    return *this;
  }
  template <class T>
  Decoder& omitIfEmpty(const char* name, std::optional<T>& value) {
    return (*this)(name, value);
  }
  // Absent or null: the member keeps the value it had (its default), e.g. a
  // counter missing from a job persisted by an older agent.
  template <class T>
  Decoder& orDefault(const char* name, T& value) {
    const Json::Value* member = in_.find(name, name + std::char_traits<char>::length(name));
    known_.push_back(name);
    if (member && !member->isNull()) fromJson(*member, value, path_ + name);
    return *this;
  }
  Decoder& rest(Json::Value& extra) {
    extra = Json::Value(Json::objectValue);
    for (const auto& key : in_.getMemberNames()) {
      bool isKnown = false;
      for (const char* k : known_) isKnown = isKnown || key == k;
      if (!isKnown) extra[key] = in_[key];
    }
    return *this;
  }

 private:
  const Json::Value& in_;
  std::string path_;
  std::vector<const char*> known_;
};

[[noreturn]] inline void wrongType(const std::string& path, const char* expected) {
  throw DecodeError(path, "member '" + path + "' is not " + expected);
}

template <class T>
Json::Value toJson(const T& value) {
  if constexpr (std::is_same_v<T, Json::Value>) {
    return value;
  } else if constexpr (std::is_same_v<T, std::string>) {
    return Json::Value(value);
  } else if constexpr (std::is_same_v<T, bool>) {
    return Json::Value(value);
  } else if constexpr (std::is_enum_v<T>) {
    return Json::Value(enumName(value));
  } else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
    return Json::Value(Json::Int64(value));
  } else if constexpr (std::is_integral_v<T>) {
    return Json::Value(Json::UInt64(value));
  } else if constexpr (std::is_floating_point_v<T>) {
    return Json::Value(double(value));
  } else if constexpr (IsOptional<T>::value) {
    return value ? toJson(*value) : Json::Value();
  } else if constexpr (IsVisitable<T>::value) {
    Encoder e;
    const_cast<T&>(value).visit(e);
    return e.out;
  } else {
    return toJson(value, static_cast<int*>(nullptr));  // containers, below
  }
}

template <class T>
Json::Value toJson(const std::vector<T>& items, int*) {
  Json::Value out(Json::arrayValue);
  for (const auto& item : items) out.append(toJson(item));
  return out;
}

template <class T>
Json::Value toJson(const std::map<std::string, T>& items, int*) {
  Json::Value out(Json::objectValue);
  for (const auto& [key, item] : items) out[key] = toJson(item);
  return out;
}

template <class T>
void fromJson(const Json::Value& json, std::vector<T>& out, const std::string& path, int*) {
  if (!json.isArray()) wrongType(path, "an array");
  out.clear();
  for (Json::ArrayIndex i = 0; i < json.size(); ++i) {
    out.emplace_back();
    fromJson(json[i], out.back(), path + "[" + std::to_string(i) + "]");
  }
}

template <class T>
void fromJson(const Json::Value& json, std::map<std::string, T>& out, const std::string& path, int*) {
  if (!json.isObject()) wrongType(path, "an object");
  out.clear();
  for (const auto& key : json.getMemberNames()) fromJson(json[key], out[key], path + "." + key);
}

template <class T>
void fromJson(const Json::Value& json, T& out, const std::string& path) {
  if constexpr (std::is_same_v<T, Json::Value>) {
    out = json;
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!json.isString()) wrongType(path, "a string");
    out = json.asString();
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!json.isBool()) wrongType(path, "a boolean");
    out = json.asBool();
  } else if constexpr (std::is_enum_v<T>) {
    if (!json.isString()) wrongType(path, "a string");
    auto value = enumFromName<T>(json.asString());
    if (!value) throw DecodeError(path, "member '" + path + "' has an unknown value '" + json.asString() + "'");
    out = *value;
  } else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
    if (!json.isInt64()) wrongType(path, "an integer");
    out = T(json.asInt64());
  } else if constexpr (std::is_integral_v<T>) {
    if (!json.isUInt64()) wrongType(path, "a non-negative integer");
    out = T(json.asUInt64());
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!json.isNumeric() || json.isBool()) wrongType(path, "a number");
    out = T(json.asDouble());
  } else if constexpr (IsOptional<T>::value) {
    if (json.isNull()) {
      out.reset();
    } else {
      out.emplace();
      fromJson(json, *out, path);
    }
  } else if constexpr (IsVisitable<T>::value) {
    if (!json.isObject()) wrongType(path, "an object");
    Decoder d(json, path.empty() ? "" : path + ".");
    out.visit(d);
  } else {
    fromJson(json, out, path, static_cast<int*>(nullptr));
  }
}

}  // namespace detail

template <class T>
Json::Value encode(const T& value) {
  return detail::toJson(value);
}

template <class T>
T decode(const Json::Value& json) {
  T out{};
  detail::fromJson(json, out, "");
  return out;
}

// A verb's descriptor: its name, its parameters, its result.
#define GDR_VERB(Type, name, P, R)             \
  struct Type {                                \
    static constexpr const char* kName = name; \
    using Params = P;                          \
    using Result = R;                          \
  }

// An empty parameter list or result: {}.
struct Empty {
  template <class V>
  void visit(V&) {}
};

}  // namespace gdr::api
