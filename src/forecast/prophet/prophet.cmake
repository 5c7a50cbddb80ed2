# Prophet-style model sources, added to tidegate::forecast (included from src/forecast/CMakeLists.txt).
if(NOT TARGET Eigen3::Eigen)
  find_package(Eigen3 3.3 REQUIRED NO_MODULE GLOBAL)
endif()
target_sources(tidegate_forecast PRIVATE ${CMAKE_CURRENT_LIST_DIR}/prophet.cc)
target_link_libraries(tidegate_forecast PRIVATE Eigen3::Eigen nlopt)
