#include "agent/errors.h"

namespace gdr {

const char* codeName(Code code) {
  switch (code) {
    case Code::ParseError: return "ParseError";
    case Code::InvalidRequest: return "InvalidRequest";
    case Code::MethodNotFound: return "MethodNotFound";
    case Code::InvalidParams: return "InvalidParams";
    case Code::InternalError: return "InternalError";
    case Code::NoSuchVM: return "NoSuchVM";
    case Code::SnapshotFailed: return "SnapshotFailed";
    case Code::MergeFailed: return "MergeFailed";
    case Code::NoSuchJob: return "NoSuchJob";
    case Code::JobNotActive: return "JobNotActive";
    case Code::JobExists: return "JobExists";
    case Code::AbortNotSupported: return "AbortNotSupported";
    case Code::InvalidParameter: return "InvalidParameter";
    case Code::GeneralException: return "GeneralException";
    case Code::Busy: return "Busy";
    case Code::ShuttingDown: return "ShuttingDown";
  }
  return "Unknown";
}

}  // namespace gdr
