# ARIMA model sources, added to tidegate::forecast (included from src/forecast/CMakeLists.txt).
if(NOT TARGET Eigen3::Eigen)
  find_package(Eigen3 3.3 REQUIRED NO_MODULE GLOBAL)
endif()
target_sources(tidegate_forecast PRIVATE ${CMAKE_CURRENT_LIST_DIR}/arma_state_space.cc
                                         ${CMAKE_CURRENT_LIST_DIR}/arima_unit_root.cc
                                         ${CMAKE_CURRENT_LIST_DIR}/arima_model.cc
                                         ${CMAKE_CURRENT_LIST_DIR}/auto_arima.cc
                                         ${CMAKE_CURRENT_LIST_DIR}/arima_forecaster.cc)
target_link_libraries(tidegate_forecast PRIVATE Eigen3::Eigen nlopt)
