/* make_h5_fixtures.c: writes the tiny HDF5 fixtures used by
 * tests/unit/importer_dlc_sleap_jabs_test.cpp (layouts the shared data set does not cover).
 *
 *   gcc -O2 -I/usr/include/hdf5/serial make_h5_fixtures.c -o /tmp/make_h5_fixtures \
 *       -L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5 && (cd tests/data/importers && /tmp/make_h5_fixtures)
 *
 * Values follow formulas the test recomputes:
 *   SLEAP (tracks "a", "b", "c"; nodes head, thorax, tail; 20 frames):
 *     x = 100 t + 10 k + f, y = 500 + 100 t + 10 k + f, score = 0.5 + 0.01 k + 0.1 t;
 *     missing: track a / tail in frame 1; track b in frame 3 (whole instance);
 *     track c only in frame 2 (5 % of the frames: dropped by the default min_track_fraction).
 *   - sleap_legacy.analysis.h5: SLEAP's own export, no `dims`: tracks (track, xy, node, frame),
 *     point_scores (track, node, frame), track_occupancy (frame, track).
 *   - sleap_transpose0.analysis.h5: file attribute transpose = 0: tracks (frame, node, xy, track),
 *     point_scores (frame, node, track).
 *   JABS (12 keypoints, stored (y, x)):
 *   - jabs_v2_pose_est_v2.h5: one mouse, 3 frames: y = 50 + k, x = 10 k + f, confidence 0.9,
 *     keypoint 11 has confidence 0 (missing) with (0, 0).
 *   - jabs_v3_pose_est_v3.h5: instances but no instance_embed_id (refused).
 *   - jabs_v4_pose_est_v4.h5: 2 frames x 3 slots; frame 0 embed ids [1, 1, 2] (identity 1 twice:
 *     the first slot wins), frame 1 embed ids [2, 1, 0] with instance_count 1 (slot 1 ignored);
 *     slot s keypoint k: y = 100 s + k, x = 1000 + 100 s + k + 10 f, confidence 1.
 */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static void write(hid_t loc, const char* name, hid_t type, int rank, const hsize_t* dims, const void* data) {
  hid_t space = H5Screate_simple(rank, dims, NULL);
  hid_t ds = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
  H5Dclose(ds);
  H5Sclose(space);
}

static void write_fixed_strings(hid_t loc, const char* name, const char* const* values, hsize_t n, size_t width) {
  char buf[64 * 16];
  memset(buf, 0, sizeof buf);
  for (hsize_t i = 0; i < n; ++i) strncpy(buf + i * width, values[i], width);
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, width);
  H5Tset_strpad(type, H5T_STR_NULLPAD);
  write(loc, name, type, 1, &n, buf);
  H5Tclose(type);
}

static void int_attribute(hid_t loc, const char* name, int rank, const hsize_t* dims, const long long* values) {
  hid_t space = rank ? H5Screate_simple(rank, dims, NULL) : H5Screate(H5S_SCALAR);
  hid_t attr = H5Acreate2(loc, name, H5T_NATIVE_LLONG, space, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(attr, H5T_NATIVE_LLONG, values);
  H5Aclose(attr);
  H5Sclose(space);
}

enum { F = 20, T = 3, K = 3 };

static int sleap_present(int t, int k, int f) {
  if (t == 0 && k == 2 && f == 1) return 0;
  if (t == 1 && f == 3) return 0;
  if (t == 2 && f != 2) return 0;
  return 1;
}
static double sx(int t, int k, int f) { return sleap_present(t, k, f) ? 100.0 * t + 10.0 * k + f : NAN; }
static double sy(int t, int k, int f) { return sleap_present(t, k, f) ? 500.0 + 100.0 * t + 10.0 * k + f : NAN; }
static double ss(int t, int k, int f) { return sleap_present(t, k, f) ? 0.5 + 0.01 * k + 0.1 * t : NAN; }

static void sleap_common(hid_t file) {
  const char* tracks[T] = {"a", "b", "c"};
  const char* nodes[K] = {"head", "thorax", "tail"};
  write_fixed_strings(file, "track_names", tracks, T, 1);
  write_fixed_strings(file, "node_names", nodes, K, 6);
  unsigned char occ[F][T];
  for (int f = 0; f < F; ++f)
    for (int t = 0; t < T; ++t) occ[f][t] = (unsigned char)(sleap_present(t, 0, f) || sleap_present(t, 1, f));
  hsize_t odims[2] = {F, T};
  write(file, "track_occupancy", H5T_NATIVE_UCHAR, 2, odims, occ);
}

static void sleap_legacy(void) {
  hid_t file = H5Fcreate("sleap_legacy.analysis.h5", H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  sleap_common(file);
  static double tr[T][2][K][F];
  static double ps[T][K][F];
  for (int t = 0; t < T; ++t)
    for (int k = 0; k < K; ++k)
      for (int f = 0; f < F; ++f) {
        tr[t][0][k][f] = sx(t, k, f);
        tr[t][1][k][f] = sy(t, k, f);
        ps[t][k][f] = ss(t, k, f);
      }
  hsize_t tdims[4] = {T, 2, K, F}, pdims[3] = {T, K, F};
  write(file, "tracks", H5T_NATIVE_DOUBLE, 4, tdims, tr);
  write(file, "point_scores", H5T_NATIVE_DOUBLE, 3, pdims, ps);
  H5Fclose(file);
}

static void sleap_transpose0(void) {
  hid_t file = H5Fcreate("sleap_transpose0.analysis.h5", H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  sleap_common(file);
  long long zero = 0;
  int_attribute(file, "transpose", 0, NULL, &zero);
  static double tr[F][K][2][T];
  static double ps[F][K][T];
  for (int t = 0; t < T; ++t)
    for (int k = 0; k < K; ++k)
      for (int f = 0; f < F; ++f) {
        tr[f][k][0][t] = sx(t, k, f);
        tr[f][k][1][t] = sy(t, k, f);
        ps[f][k][t] = ss(t, k, f);
      }
  hsize_t tdims[4] = {F, K, 2, T}, pdims[3] = {F, K, T};
  write(file, "tracks", H5T_NATIVE_DOUBLE, 4, tdims, tr);
  write(file, "point_scores", H5T_NATIVE_DOUBLE, 3, pdims, ps);
  H5Fclose(file);
}

static void jabs_v2(void) {
  hid_t file = H5Fcreate("jabs_v2_pose_est_v2.h5", H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t g = H5Gcreate2(file, "poseest", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t vdims[1] = {2};
  long long version[2] = {2, 0};
  int_attribute(g, "version", 1, vdims, version);
  unsigned short pts[3][12][2];
  float conf[3][12];
  for (int f = 0; f < 3; ++f)
    for (int k = 0; k < 12; ++k) {
      int missing = k == 11;
      pts[f][k][0] = (unsigned short)(missing ? 0 : 50 + k);
      pts[f][k][1] = (unsigned short)(missing ? 0 : 10 * k + f);
      conf[f][k] = missing ? 0.0f : 0.9f;
    }
  hsize_t pdims[3] = {3, 12, 2}, cdims[2] = {3, 12};
  write(g, "points", H5T_NATIVE_USHORT, 3, pdims, pts);
  write(g, "confidence", H5T_NATIVE_FLOAT, 2, cdims, conf);
  H5Gclose(g);
  H5Fclose(file);
}

static void jabs_v3(void) {
  hid_t file = H5Fcreate("jabs_v3_pose_est_v3.h5", H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t g = H5Gcreate2(file, "poseest", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t vdims[1] = {2};
  long long version[2] = {3, 0};
  int_attribute(g, "version", 1, vdims, version);
  static unsigned short pts[2][2][12][2];
  static float conf[2][2][12];
  unsigned char count[2] = {2, 2};
  unsigned int track[2][2] = {{1, 2}, {1, 2}};
  hsize_t pdims[4] = {2, 2, 12, 2}, cdims[3] = {2, 2, 12}, ndims[1] = {2}, tdims[2] = {2, 2};
  write(g, "points", H5T_NATIVE_USHORT, 4, pdims, pts);
  write(g, "confidence", H5T_NATIVE_FLOAT, 3, cdims, conf);
  write(g, "instance_count", H5T_NATIVE_UCHAR, 1, ndims, count);
  write(g, "instance_track_id", H5T_NATIVE_UINT, 2, tdims, track);
  H5Gclose(g);
  H5Fclose(file);
}

static void jabs_v4(void) {
  hid_t file = H5Fcreate("jabs_v4_pose_est_v4.h5", H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t g = H5Gcreate2(file, "poseest", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t vdims[1] = {2};
  long long version[2] = {4, 0};
  int_attribute(g, "version", 1, vdims, version);
  static unsigned short pts[2][3][12][2];
  static float conf[2][3][12];
  for (int f = 0; f < 2; ++f)
    for (int s = 0; s < 3; ++s)
      for (int k = 0; k < 12; ++k) {
        pts[f][s][k][0] = (unsigned short)(100 * s + k);
        pts[f][s][k][1] = (unsigned short)(1000 + 100 * s + k + 10 * f);
        conf[f][s][k] = 1.0f;
      }
  unsigned char count[2] = {3, 1};
  unsigned int embed[2][3] = {{1, 1, 2}, {2, 1, 0}};
  hsize_t pdims[4] = {2, 3, 12, 2}, cdims[3] = {2, 3, 12}, ndims[1] = {2}, edims[2] = {2, 3};
  write(g, "points", H5T_NATIVE_USHORT, 4, pdims, pts);
  write(g, "confidence", H5T_NATIVE_FLOAT, 3, cdims, conf);
  write(g, "instance_count", H5T_NATIVE_UCHAR, 1, ndims, count);
  write(g, "instance_embed_id", H5T_NATIVE_UINT, 2, edims, embed);
  H5Gclose(g);
  H5Fclose(file);
}

int main(void) {
  sleap_legacy();
  sleap_transpose0();
  jabs_v2();
  jabs_v3();
  jabs_v4();
  puts("wrote sleap_legacy.analysis.h5 sleap_transpose0.analysis.h5 jabs_v2_pose_est_v2.h5 "
       "jabs_v3_pose_est_v3.h5 jabs_v4_pose_est_v4.h5");
  return 0;
}
