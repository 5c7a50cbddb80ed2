// The asset table of a tidegated built without the dashboard (-DTIDEGATE_BUILD_DASHBOARD=OFF).
#include "server/web_assets_data.h"

namespace tidegate::server::web {

std::span<const EmbeddedAsset> EmbeddedAssets() { return {}; }

}  // namespace tidegate::server::web
