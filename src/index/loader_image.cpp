// Images (PNG, JPEG, TIFF) through tesseract OCR, English, so that a photo of a receipt becomes
// searchable text.  Leptonica decodes from memory; dimensions are checked from the header
// before decoding so a hostile header cannot ask for gigabytes.
#include <leptonica/allheaders.h>
#include <tesseract/baseapi.h>

#include <cstdlib>
#include <memory>
#include <mutex>

#include "index/loader.h"

namespace plumb::index {
namespace {

constexpr int64_t kMaxPixels = 80'000'000;  // ~ 9000 x 9000

struct PixDeleter {
  void operator()(PIX* p) const { pixDestroy(&p); }
};
using PixPtr = std::unique_ptr<PIX, PixDeleter>;

// One engine per process: Init() loads ~20 MB of model and takes a while.
std::mutex& ocr_mutex() {
  static std::mutex m;
  return m;
}

std::unique_ptr<tesseract::TessBaseAPI>& engine_slot() {
  static std::unique_ptr<tesseract::TessBaseAPI> api;
  return api;
}

Result<tesseract::TessBaseAPI*> ocr_engine() {
  auto& api = engine_slot();
  static bool failed = false;
  if (api) return api.get();
  if (failed) return Status::Unsupported("tesseract could not be initialised (language 'eng')");
  setMsgSeverity(L_SEVERITY_NONE);  // leptonica prints errors on bad images; we report our own
  auto a = std::make_unique<tesseract::TessBaseAPI>();
  // Debian's tesseract-ocr-eng puts eng.traineddata where the library looks by default
  // (TESSDATA_PREFIX overrides).
  if (a->Init(nullptr, "eng", tesseract::OEM_LSTM_ONLY) != 0) {
    failed = true;
    return Status::Unsupported("tesseract could not load language 'eng' (install tesseract-ocr-eng or set TESSDATA_PREFIX)");
  }
  a->SetVariable("debug_file", "/dev/null");
  a->SetPageSegMode(tesseract::PSM_AUTO);
  api = std::move(a);
  // Tesseract's dictionary cache is a function-local static created inside Init(), so it is
  // destroyed before our static engine; an engine still holding dictionaries then leaks them.
  // An exit handler registered now runs before that cache's destructor.
  std::atexit([] { engine_slot().reset(); });
  return api.get();
}

}  // namespace

Result<LoadedDocument> load_image(std::string_view data, std::string_view name) {
  const std::string n(name);
  setMsgSeverity(L_SEVERITY_NONE);
  const auto* bytes = reinterpret_cast<const l_uint8*>(data.data());
  l_int32 format = 0, w = 0, h = 0, bps = 0, spp = 0, iscmap = 0;
  if (data.size() < 8 || pixReadHeaderMem(bytes, data.size(), &format, &w, &h, &bps, &spp, &iscmap) != 0)
    return Status::Corrupt(n + ": not a readable PNG/JPEG/TIFF image (bad header)");
  if (w <= 0 || h <= 0 || static_cast<int64_t>(w) * h > kMaxPixels)
    return Status::Unsupported(n + ": image is " + std::to_string(w) + "x" + std::to_string(h) +
                               " pixels; at most " + std::to_string(kMaxPixels) + " pixels are OCRed");
  PixPtr pix(pixReadMem(bytes, data.size()));
  if (!pix) return Status::Corrupt(n + ": image data is damaged (decoder failed)");

  std::lock_guard<std::mutex> lock(ocr_mutex());
  PLUMB_ASSIGN_OR_RETURN(tesseract::TessBaseAPI * api, ocr_engine());
  api->SetImage(pix.get());
  if (pixGetXRes(pix.get()) < 70) api->SetSourceResolution(300);  // silences "estimating resolution"
  std::unique_ptr<char[]> raw(api->GetUTF8Text());
  api->Clear();
  LoadedDocument doc;
  doc.kind = "image";
  if (!raw) return Status::Corrupt(n + ": OCR failed");
  std::string warning;
  std::string text = normalize_whitespace(repair_utf8(raw.get(), &warning));
  if (text.empty()) {
    doc.warnings.push_back("OCR found no text");
    return doc;
  }
  Section s;
  s.text = std::move(text);
  doc.sections.push_back(std::move(s));
  return doc;
}

}  // namespace plumb::index
