"""Starts the terrain_learner node (`terrain-learner ros`) with launch/params.yaml.

    ros2 launch launch/terrain_learner.launch.py image_topic:=/front_camera/image_raw imu_topic:=/imu

`terrain-learner` is an npm executable, not a ROS package, so it runs as an ExecuteProcess with
`--ros-args --params-file`; the topic arguments become `-r from:=to` remappings of the node's
default input topics. Needs a sourced ROS 2 and `npm install rclnodejs` in the terrain-learner
folder; set terrain_learner:=/path/to/bin/terrain-learner.js if it is not on PATH.
"""

import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess
from launch.substitutions import LaunchConfiguration

HERE = os.path.dirname(os.path.abspath(__file__))

# (argument, default, node's default topic it remaps, description)
TOPICS = [
    ("image_topic", "/camera/image_raw", "/camera/image_raw", "sensor_msgs/Image input"),
    (
        "compressed_image_topic",
        "/camera/image_raw/compressed",
        "/camera/image_raw/compressed",
        "sensor_msgs/CompressedImage input (ros.imageTransport: compressed)",
    ),
    ("camera_info_topic", "/camera/camera_info", "/camera/camera_info", "sensor_msgs/CameraInfo input"),
    ("imu_topic", "/imu/data", "/imu/data", "sensor_msgs/Imu input"),
    ("odom_topic", "/odom", "/odom", "nav_msgs/Odometry input"),
]


def generate_launch_description():
    args = [
        DeclareLaunchArgument("terrain_learner", default_value="terrain-learner", description="the terrain-learner executable"),
        DeclareLaunchArgument(
            "params_file",
            default_value=os.path.join(HERE, "params.yaml"),
            description="ROS 2 params file for terrain_learner",
        ),
        DeclareLaunchArgument("use_sim_time", default_value="false", description="use /clock (bag playback, simulation)"),
    ]
    cmd = [
        LaunchConfiguration("terrain_learner"),
        "ros",
        "--ros-args",
        "--params-file",
        LaunchConfiguration("params_file"),
        "-p",
        ["use_sim_time:=", LaunchConfiguration("use_sim_time")],
    ]
    for name, default, remapped, description in TOPICS:
        args.append(DeclareLaunchArgument(name, default_value=default, description=description))
        cmd += ["-r", [remapped + ":=", LaunchConfiguration(name)]]
    return LaunchDescription(args + [ExecuteProcess(cmd=cmd, name="terrain_learner", output="screen")])
