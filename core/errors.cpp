#include "core/errors.h"

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
    case Code::VMBusy: return "VMBusy";
    case Code::GlusterCommandFailed: return "GlusterCommandFailed";
    case Code::GlusterVolumeNotFound: return "GlusterVolumeNotFound";
    case Code::GeoRepSessionNotFound: return "GeoRepSessionNotFound";
    case Code::GeoRepWorkerFaulty: return "GeoRepWorkerFaulty";
    case Code::GeoRepSyncTimeout: return "GeoRepSyncTimeout";
    case Code::GeoRepSyncStalled: return "GeoRepSyncStalled";
    case Code::GlusterCliTimeout: return "GlusterCliTimeout";
    case Code::GlusterCliBadOutput: return "GlusterCliBadOutput";
    case Code::GfapiConnectFailed: return "GfapiConnectFailed";
    case Code::GfapiIOError: return "GfapiIOError";
    case Code::ReadOnlyBypassUnavailable: return "ReadOnlyBypassUnavailable";
    case Code::PathRejected: return "PathRejected";
    case Code::PathOutsidePrefix: return "PathOutsidePrefix";
    case Code::NotRegularFile: return "NotRegularFile";
    case Code::NotQcow2: return "NotQcow2";
    case Code::ImageIsBase: return "ImageIsBase";
    case Code::BackingMismatch: return "BackingMismatch";
    case Code::ImageInUse: return "ImageInUse";
    case Code::ImageCorrupt: return "ImageCorrupt";
    case Code::FileNotFound: return "FileNotFound";
    case Code::FileChanged: return "FileChanged";
  }
  return "Unknown";
}

}  // namespace gdr
